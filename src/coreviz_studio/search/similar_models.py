"""The similarity models `similarToObjectModel` can name, and the answer to one this server has
not (the official SDK documents `faces`, `objects` and `shoeprints`; its hosted product has
models a self-hosted install does not).

`objects`, `faces` and `image` compare the object with the detected objects, the faces, or the
whole frames; which of them the pipeline produces depends on the models installed, and the
message of a refusal says both.
"""

from __future__ import annotations

from coreviz_studio.ai.registry import Models
from coreviz_studio.errors import Invalid
from coreviz_studio.media.browse import SIMILAR_MODELS

_WHAT = {"objects": "detected objects, by the look of their crops",
         "faces": "faces, by face embedding", "image": "whole frames, by image embedding"}
# How to enable each where this install does not produce it.
_NEEDS = {"objects": "the object detector (an .onnx file in <models dir>/objects/) and the "
                     "labels model",
          "faces": "the faces model", "image": "the labels or the clip model"}


def produced(models: Models) -> list[str]:
    """The models whose embeddings this install's pipeline writes."""
    present = {"objects": models.detector is not None and models.features is not None,
               "faces": models.faces is not None,
               "image": models.features is not None or models.clip is not None}
    return [name for name in SIMILAR_MODELS if present[name]]


def checked(model: str | None, models: Models) -> str | None:
    """`model` where this server has it; else a 422 that lists what it has."""
    if model is None or model in SIMILAR_MODELS:
        return model
    return _refuse(model, models)


def _refuse(model: str, models: Models) -> str:
    shown = model if len(model) <= 40 else model[:40] + "..."
    known = "; ".join(f"{name} ({_WHAT[name]})" for name in SIMILAR_MODELS)
    here = produced(models)
    missing = [name for name in SIMILAR_MODELS if name not in here]
    install = (f" This install produces: {', '.join(here) or 'none of them'}"
               + "".join(f"; {name} needs {_NEEDS[name]} (COREVIZ_MODELS)" for name in missing)
               + ".")
    raise Invalid(f"similarToObjectModel {shown!r} is not a similarity model of this server. "
                  f"Use one of: {known}; or leave it out to compare the object with others "
                  f"of its own kind.{install}")


def mismatch(model: str, object_type: str) -> Invalid:
    """A face compared as an object, or an object as a face: which model fits the id."""
    fits = {"face": "faces", "object": "objects"}.get(object_type)
    start = f"similarToObjectModel={model} compares {_WHAT[model]}, but this id is a {object_type}"
    if fits:
        return Invalid(f"{start}: use similarToObjectModel={fits} (or image, to compare whole "
                       "frames), or leave the model out")
    return Invalid(f"{start}, which has no embedding of its own: use "
                   "similarToObjectModel=image to compare whole frames")
