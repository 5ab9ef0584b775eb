"""Which of a text query's scored candidates are relevant at all: a cutoff that adapts to
each query's own scores, so a query that matches nothing ("pizza" among holiday photos)
returns nothing, and a query that matches a few returns those few.

Each candidate comes with its best frame's vector similarity to the query (`sim`) and its
text part (`words`: 0.6..1 for an exact word, below 0.6 for a near miss by trigrams), as
search/scoring.py's `hybrid` computes them. A candidate is kept when:
- an exact word of the query is in its document (`words >= EXACT`), unless such matches are most
  of the candidates (a word that every item has tells nothing: then they need a vector
  reason too);
- a near miss is close (`words >= NEAR`: word similarity 0.55, a typo: "invoce" is 0.57);
- its similarity is sure on its own (`sim >= SURE`), or stands out from this query's
  similarities: above `FLOOR`, `K` robust deviations above their median, and within `BAND`
  of the best one; or, alone, the best one when it stands `STANDOUT_K` deviations above the
  median though under `FLOOR` (down to `LOW`): one clear winner in a flat field.
The figures are chosen on bench/search_quality.py's queries, true negatives included.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

EXACT = 0.6
NEAR = 0.33
SURE = 0.55
FLOOR = 0.35
K = 2.5
BAND = 0.12
GENERIC_SHARE = 0.6  # exact matches on more than this share of the candidates tell little
MIN_SPREAD = 0.02  # a floor on the deviation, so a tight bunch of similar scores is not "spread"
MIN_FOR_STATS = 8  # fewer candidates than this: no distribution to read, absolute rules only
# Below FLOOR, the best candidate alone still counts if it stands this many deviations above
# the median (and above LOW): one clear winner in a flat field. None: off.
STANDOUT_K: float | None = 4.0
LOW = 0.28


def applies(vectors: Sequence[Any]) -> bool:
    """Only for queries embedded by the text model alone: the figures were chosen on its
    similarities, and CLIP's text-to-image ones are lower (0.2 to 0.35), so with a CLIP model
    they would drop what CLIP finds. Choose them again with CLIP before lifting this."""
    return all(v.kind == "text" for v in vectors)


def threshold(sims: Sequence[float]) -> float:
    """The similarity a candidate must reach to stand out among these."""
    if not sims:
        return SURE
    top = max(sims)
    if len(sims) < MIN_FOR_STATS:
        return max(FLOOR, top - BAND)
    median = statistics.median(sims)
    spread = max(MIN_SPREAD, 1.4826 * statistics.median(abs(s - median) for s in sims))
    return min(SURE, max(FLOOR, median + K * spread, top - BAND))


def relevant(rows: Sequence[Any]) -> list[Any]:
    """The rows worth showing, in their order (rows have `sim` and `words`, either may be None)."""
    if not rows:
        return []
    exact = [r for r in rows if (r.words or 0) >= EXACT]
    generic = len(rows) >= MIN_FOR_STATS and len(exact) > GENERIC_SHARE * len(rows)
    sims = [float(r.sim) for r in rows if r.sim is not None]
    bar = threshold(sims)
    if STANDOUT_K is not None and len(sims) >= MIN_FOR_STATS:
        median = statistics.median(sims)
        spread = max(MIN_SPREAD, 1.4826 * statistics.median(abs(s - median) for s in sims))
        top = max(sims)
        if top >= LOW and top >= median + STANDOUT_K * spread:
            bar = min(bar, top)
    kept = []
    for r in rows:
        t, sim = float(r.words or 0), (float(r.sim) if r.sim is not None else None)
        by_vector = sim is not None and sim >= bar
        by_text = (t >= EXACT and not generic) or NEAR <= t < EXACT
        if by_vector or by_text:
            kept.append(r)
    return kept
