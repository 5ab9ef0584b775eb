"""Search quality on real photos, before and after understanding/ (docs/search.md):
hit@1, hit@3 and MRR of `q` for hand-written queries, and the true-negative rate (queries that
match nothing in the set must return nothing).

The photos are real ones that ship in packages, read from where they are installed (nothing is
committed): scikit-image's (`skimage.data`: a cat, coffee, an astronaut, a rocket, a
photographer, a motorcycle, galaxies, the moon, a retina, a tissue slide, bricks, gravel) and
the nature photos of Debian's `mate-backgrounds` (GPL-2+: a water drop, leaves, a beach, three
flowers, a meadow, a ladybird, raindrops, a storm, dandelion seeds, wood), when installed
(`apt-get install mate-backgrounds`). Some are given EXIF camera, date and GPS here (written
with Pillow: no package ships geotagged photos), so place, camera and year queries have
answers. The queries were written before the first run; a query may have several right
answers (any of them counts).

The same photos go to two servers in one run: "before" with COREVIZ_UNDERSTANDING_WORDS=false
and COREVIZ_SEARCH_CUTOFF=false, "after" with both on (the defaults). For the after server the
raw candidates (vector similarity and text part) are read too, so the cutoff's settings can
be compared on the same data (the grid at the end).

    .venv/bin/python -m bench.understanding_quality [--only skimage]
Prints figures only; last line `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import skimage.data
from PIL import Image
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bench._server import Bench, running
from coreviz_studio.ai.text_embedding import TextEmbedder
from coreviz_studio.db.embedded import EmbeddedPostgres
from coreviz_studio.db.session import sqlalchemy_url
from coreviz_studio.search import scoring
from coreviz_studio.understanding import cutoff

MATE = Path("/usr/share/backgrounds/mate/nature")
SKIMAGE = ["astronaut", "chelsea", "coffee", "rocket", "camera", "motorcycle_left",
           "hubble_deep_field", "moon", "retina", "immunohistochemistry", "brick", "gravel"]
MATE_PHOTOS = ["Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird",
               "RainDrops", "Storm", "TwoWings", "Wood", "YellowFlower"]
# name -> (Make, Model, DateTimeOriginal, (lat, lon) or None)
EXIF = {
    "LadyBird": ("Canon", "Canon EOS 80D", "2019:05:18 11:02:00", (48.8462, 2.3371)),  # Paris
    "Storm": ("NIKON CORPORATION", "NIKON D7500", "2021:08:30 18:40:00", (52.52, 13.405)),
    "Dune": ("SONY", "ILCE-7M3", "2018:07:02 16:10:00", (38.6979, -9.4215)),  # Cascais
    "coffee": ("Apple", "iPhone 12", "2020:02:11 08:15:00", (41.9028, 12.4964)),  # Rome
    "chelsea": ("Canon", "Canon EOS 5D Mark II", "2016:10:09 15:00:00", None),
}
POSITIVE: dict[str, list[str]] = {
    "cat": ["chelsea"], "an animal": ["chelsea", "LadyBird"], "insect": ["LadyBird"],
    "ladybug": ["LadyBird"], "a beetle on a plant stem": ["LadyBird"],
    "flower": ["FreshFlower", "Garden", "YellowFlower", "LadyBird"],
    "yellow flower": ["YellowFlower"], "orange blossom": ["FreshFlower", "Garden"],
    "a red flower": ["Garden"], "water drop splash": ["Aqua"],
    "droplets on leaves": ["RainDrops"], "green leaf": ["Blinds", "RainDrops"],
    "grass": ["GreenMeadow", "Dune"], "lawn": ["GreenMeadow"],
    "beach by the sea": ["Dune"], "storm clouds": ["Storm"],
    "dark sky over a road": ["Storm"], "dandelion seeds": ["TwoWings"],
    "wooden plank": ["Wood"], "wood texture": ["Wood"], "coffee": ["coffee"],
    "a hot drink": ["coffee"], "beverage": ["coffee"], "a person": ["astronaut", "camera"],
    "a man with a camera": ["camera"], "astronaut": ["astronaut"],
    "rocket launch": ["rocket"], "vehicle": ["rocket", "motorcycle_left"],
    "motorbike": ["motorcycle_left"], "galaxies": ["hubble_deep_field"],
    "the moon": ["moon"], "brick wall": ["brick"], "gravel": ["gravel"],
    "eye retina scan": ["retina"], "microscope slide": ["immunohistochemistry"],
    "black and white photo": ["camera", "moon"],
    "photos from Paris": ["LadyBird"], "in Berlin": ["Storm"], "Portugal": ["Dune"],
    "taken in Rome": ["coffee"], "taken with a Canon": ["LadyBird", "chelsea"],
    "Nikon": ["Storm"], "iPhone photos": ["coffee"], "in 2019": ["LadyBird"],
    "pictures from 2021": ["Storm"], "Sony camera": ["Dune"],
    "expresso": ["coffee"], "ladybugg": ["LadyBird"], "Pariss": ["LadyBird"],
}
NEGATIVE = ["pizza", "a wedding cake", "snowboarding", "a dog on a sofa", "traffic jam",
            "birthday party", "sushi", "tax form", "football match", "photos from Tokyo",
            "taken with a Pentax", "in 2005", "a laptop keyboard", "skyscrapers at night",
            "a bride", "horse riding", "a cow", "guitar", "a sailing boat", "cheeseburger"]


def photo(name: str) -> bytes:
    if name == "motorcycle_left":
        image = Image.fromarray(np.asarray(skimage.data.stereo_motorcycle()[0]))
    elif name in SKIMAGE:
        image = Image.fromarray(np.asarray(getattr(skimage.data, name)())).convert("RGB")
    else:
        image = Image.open(MATE / f"{name}.jpg").convert("RGB")
        image.thumbnail((1600, 1600))
    exif = Image.Exif()
    if name in EXIF:
        make, model, when, gps = EXIF[name]
        exif[0x010F], exif[0x0110] = make, model
        exif.get_ifd(0x8769)[0x9003] = when
        if gps:
            exif.get_ifd(0x8825).update({1: "N" if gps[0] >= 0 else "S", 2: _dms(gps[0]),
                                         3: "E" if gps[1] >= 0 else "W", 4: _dms(gps[1])})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    d, m = int(value), int((abs(value) - int(value)) * 60)
    return float(d), float(m), round((value - d - m / 60) * 3600, 2)


def upload_all(b: Bench, photos: dict[str, bytes]) -> dict[str, str]:
    ids = {}
    for i, (name, data) in enumerate(photos.items()):
        r = b.client.post("/api/upload/multipart", data={"datasetId": b.dataset_id},
                          files={"file": (f"IMG_{i:04d}.jpg", data, "image/jpeg")})
        r.raise_for_status()
        ids[name] = r.json()["mediaId"]
    deadline = time.monotonic() + 1200
    for media_id in ids.values():
        while b.client.get(f"/api/media/{media_id}").json()["media"]["metadata"][
                "processing"]["status"] not in ("ready", "failed"):
            if time.monotonic() > deadline:
                raise TimeoutError("processing did not finish")
            time.sleep(0.5)
    return ids


def searched(b: Bench, queries: list[str]) -> dict[str, list[str]]:
    out = {}
    for q in queries:
        r = b.client.get(f"/api/dataset/{b.dataset_id}/media", params={"q": q, "limit": 20})
        r.raise_for_status()
        out[q] = [m["id"] for m in r.json()["media"]]
    return out


def figures(rankings: dict[str, list[str]], ids: dict[str, str]) -> dict[str, float]:
    hit1 = hit3 = rr = 0.0
    positives = {q: want for q, want in POSITIVE.items() if all(w in ids for w in want)}
    for q, want in positives.items():
        targets = {ids[w] for w in want}
        ranks = [i + 1 for i, m in enumerate(rankings[q]) if m in targets]
        if ranks:
            hit1 += ranks[0] == 1
            hit3 += ranks[0] <= 3
            rr += 1 / ranks[0]
    n = len(positives)
    negatives = sum(1 for q in NEGATIVE if not rankings[q])
    mean_returned = sum(len(rankings[q]) for q in NEGATIVE) / len(NEGATIVE)
    return {"hit_at_1": round(hit1 / n, 3), "hit_at_3": round(hit3 / n, 3),
            "mrr": round(rr / n, 3), "true_negative_rate": round(negatives / len(NEGATIVE), 3),
            "negatives_mean_returned": round(mean_returned, 2)}


@contextmanager
def database(b: Bench) -> Iterator[Session]:
    pg = EmbeddedPostgres(b.data_dir)
    engine = create_engine(sqlalchemy_url(pg.acquire()))
    try:
        with Session(engine) as session:
            scoring.tune(session, 100, 20_000)
            yield session
    finally:
        engine.dispose()
        pg.release()


def raw_candidates(b: Bench, queries: list[str]) -> dict[str, list[Any]]:
    """Each query's candidates as the server scores them, before any cutoff."""
    embedder = TextEmbedder()
    scope = scoring.Scope(uuid.UUID(b.org_id), uuid.UUID(b.dataset_id))
    out = {}
    with database(b) as session:
        for q in queries:
            vector = scoring.QueryVector(embedder.name, "text", embedder.embed([q])[0])
            rows = session.execute(scoring.hybrid(q, [vector], scope, 500, 0.15)).all()
            out[q] = sorted(rows, key=lambda r: -r.score)
    return out


def grid(raw: dict[str, list[Any]], ids: dict[str, str]) -> list[dict[str, Any]]:
    """The cutoff's figures on the same candidates for other settings."""
    results = []
    names = ("K", "FLOOR", "BAND", "SURE", "NEAR", "STANDOUT_K", "LOW")
    defaults = {k: getattr(cutoff, k) for k in names}
    try:
        for k, floor, band, near, standout, low in itertools.product(
                (1.5, 2.5, 3.5), (0.3, 0.33, 0.35, 0.38), (0.12,), (0.33, 0.36),
                (None, 3.0, 4.0, 5.0, 6.0), (0.22, 0.25, 0.28)):
            cutoff.K, cutoff.FLOOR, cutoff.BAND, cutoff.NEAR = k, floor, band, near
            cutoff.STANDOUT_K, cutoff.LOW = standout, low
            ranked = {q: [str(r.media_id) for r in cutoff.relevant(rows)]
                      for q, rows in raw.items()}
            results.append({"K": k, "FLOOR": floor, "BAND": band, "NEAR": near,
                            "STANDOUT_K": standout, "LOW": low, **figures(ranked, ids)})
    finally:
        for key, value in defaults.items():
            setattr(cutoff, key, value)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["skimage"], help="leave out the Debian photos")
    args = parser.parse_args()
    names = SKIMAGE + ([] if args.only or not MATE.exists() else MATE_PHOTOS)
    photos = {name: photo(name) for name in names}
    queries = list(POSITIVE) + NEGATIVE
    runs: dict[str, dict[str, list[str]]] = {}
    off = {"COREVIZ_UNDERSTANDING_WORDS": "false", "COREVIZ_SEARCH_CUTOFF": "false"}
    ids: dict[str, dict[str, str]] = {}
    for label, env in (("before", off), ("after", {})):
        with running(f"cvs-bench-understanding-{label}-",
                     env={"COREVIZ_WORKER_CONCURRENCY": "2", **env}) as b:
            ids[label] = upload_all(b, photos)
            runs[label] = searched(b, queries)
            if label == "after":
                raw = raw_candidates(b, queries)
                captions = {name: b.client.get(f"/api/media/{m}").json()["media"]
                            for name, m in ids[label].items()}
    result: dict[str, Any] = {"photos": len(photos),
                              "positive_queries": sum(all(w in photos for w in want)
                                                      for want in POSITIVE.values()),
                              "negative_queries": len(NEGATIVE)}
    print(f"{len(photos)} photos, {result['positive_queries']} queries with answers, "
          f"{len(NEGATIVE)} without")
    print(f"{'':<8} {'hit@1':>6} {'hit@3':>6} {'MRR':>6} {'TN rate':>8} {'neg. returned':>14}")
    for label in ("before", "after"):
        f = figures(runs[label], ids[label])
        result[label] = f
        print(f"{label:<8} {f['hit_at_1']:>6.2f} {f['hit_at_3']:>6.2f} {f['mrr']:>6.2f} "
              f"{f['true_negative_rate']:>8.2f} {f['negatives_mean_returned']:>14.1f}")
    uncut = figures({q: [str(r.media_id) for r in rows] for q, rows in raw.items()},
                    ids["after"])
    result["after_without_cutoff"] = uncut
    print(f"{'after, no cutoff':<8} {uncut['hit_at_1']:>6.2f} {uncut['hit_at_3']:>6.2f} "
          f"{uncut['mrr']:>6.2f} {uncut['true_negative_rate']:>8.2f} "
          f"{uncut['negatives_mean_returned']:>14.1f}")
    names_of = {v: k for k, v in ids["after"].items()}
    print("\nafter: captions")
    for name, media in captions.items():
        frame = media["frames"][0] if media["frames"] else {}
        text = frame.get("captions", [{}])[0].get("text", "") if frame else ""
        print(f"  {name:<22} {text[:150]}")
    print("\nafter: misses (query -> expected / got) and negatives that returned something")
    for q in queries:
        got = [names_of.get(m, "?") for m in runs["after"][q][:3]]
        want = POSITIVE.get(q)
        if want is None and got:
            print(f"  NEG {q!r:<28} -> {got}")
        elif want is not None and (not got or got[0] not in want):
            print(f"  POS {q!r:<28} -> {want} / {got}")
    print("\nraw candidates (after), best 3: name sim/words")
    for q in queries:
        print(f"  {q!r:<28} " + "  ".join(
            f"{names_of.get(str(r.media_id), '?')} {r.sim if r.sim is None else round(r.sim, 2)}"
            f"/{r.words if r.words is None else round(r.words, 2)}" for r in raw[q][:3]))
    print("\ncutoff settings on the same candidates (defaults: "
          f"K {cutoff.K}, FLOOR {cutoff.FLOOR}, BAND {cutoff.BAND}, SURE {cutoff.SURE}, "
          f"NEAR {cutoff.NEAR}, STANDOUT_K {cutoff.STANDOUT_K})")
    for row in sorted(grid(raw, ids["after"]),
                      key=lambda r: -(r["mrr"] + r["true_negative_rate"]))[:15]:
        print("  " + json.dumps(row))
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
