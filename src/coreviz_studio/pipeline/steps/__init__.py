"""Processing as steps: decode first (pipeline/process.py), then one step per capability.

The order is fixed and each step reads only what the steps before it stored (see base.py).
`docs/processing.md` tells the rules: what runs when, retries, `reprocess --step`.
"""

from __future__ import annotations

from coreviz_studio.pipeline.steps.base import Step
from coreviz_studio.pipeline.steps.derived import Captions, Embeddings, SearchDocument
from coreviz_studio.pipeline.steps.finders import Faces, Labels, Moderations, Objects, Text

DECODE = "decode"
STEPS: tuple[Step, ...] = (Labels(), Objects(), Faces(), Text(), Moderations(), Captions(),
                           Embeddings(), SearchDocument())
NAMES: tuple[str, ...] = (DECODE, *(s.name for s in STEPS))
