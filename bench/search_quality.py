"""Search quality on real photos: hit@1, hit@3 and MRR of `q` for queries written by hand.

The photos are the ones scikit-image ships (a cat, a coffee cup, an astronaut, a rocket, a
photographer, galaxies, a retina, a tissue slide...) plus three pictures of printed words (an
invoice, a menu, a street sign), uploaded to a real server whose in-process worker runs the
offline models (and the COCO detector from ../shared/models when it is there). The queries
avoid the files' names and mostly the models' label words: synonyms, descriptions, and words
printed in the pictures.

Each query has one right answer. Three rankers are compared on the same collection:
- hybrid: `GET /api/dataset/{id}/media?q=...` as users call it;
- text only: the same SQL without the query vector (full text + trigrams);
- vector only: the same SQL with the vector part alone.

Prints figures only; nothing is asserted. Run from the repository root:
    .venv/bin/python -m bench.search_quality
"""

from __future__ import annotations

import io
import json
import shutil
import time
import uuid

import numpy as np
import skimage.data
from PIL import Image
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from tests.media_files import printed_text
from tests.shared_models import DETECTOR

from bench._server import Bench, running
from coreviz_studio.ai.text_embedding import TextEmbedder
from coreviz_studio.db.embedded import EmbeddedPostgres
from coreviz_studio.db.session import sqlalchemy_url
from coreviz_studio.search import scoring

PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "camera", "hubble_deep_field", "retina",
          "immunohistochemistry", "horse", "brick", "grass", "moon"]
PRINTED = {"invoice": ["INVOICE No 2024-117", "Total due: 580 EUR"],
           "menu": ["MENU", "Soup of the day", "Grilled salmon"],
           "sign": ["STOP", "ROAD CLOSED"]}
QUERIES = {
    "kitty lying down": "chelsea",
    "a feline pet": "chelsea",
    "espresso": "coffee",
    "hot drink in a mug": "coffee",
    "spaceman": "astronaut",
    "woman in a space suit": "astronaut",
    "missile on a launch pad": "rocket",
    "space launch vehicle": "rocket",
    "man taking pictures with a tripod": "camera",
    "cameraman": "camera",
    "galaxies and stars": "hubble_deep_field",
    "night sky": "hubble_deep_field",
    "horse silhouette": "horse",
    "stallion": "horse",
    "bricks in a wall": "brick",
    "green lawn": "grass",
    "lunar surface": "moon",
    "craters": "moon",
    "bill to pay": "invoice",
    "amount due": "invoice",
    "salmon dish": "menu",
    "restaurant menu": "menu",
    "road closed sign": "sign",
    "stop": "sign",
}


def photo(name: str) -> bytes:
    pixels = np.asarray(getattr(skimage.data, name)())
    out = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


def upload_all(b: Bench) -> dict[str, str]:
    files = {name: photo(name) for name in PHOTOS}
    files |= {name: printed_text(lines) for name, lines in PRINTED.items()}
    ids = {}
    for i, (name, data) in enumerate(files.items()):
        r = b.client.post("/api/upload/multipart", data={"datasetId": b.dataset_id},
                          files={"file": (f"IMG_{i:04d}.jpg", data, "image/jpeg")})
        r.raise_for_status()
        ids[name] = r.json()["mediaId"]
    deadline = time.monotonic() + 900
    for media_id in ids.values():
        while True:
            state = b.client.get(f"/api/media/{media_id}").json()["media"]["metadata"][
                "processing"]["status"]
            if state in ("ready", "failed"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("processing did not finish")
            time.sleep(0.5)
    return ids


def score(rankings: dict[str, list[str]], ids: dict[str, str]) -> tuple[float, float, float]:
    hit1 = hit3 = rr = 0.0
    for query, expected in QUERIES.items():
        ranked = rankings[query]
        target = ids[expected]
        if target in ranked:
            position = ranked.index(target) + 1
            hit1 += position == 1
            hit3 += position <= 3
            rr += 1 / position
    n = len(QUERIES)
    return hit1 / n, hit3 / n, rr / n


def main() -> None:
    env = {"COREVIZ_WORKER_CONCURRENCY": "2"}
    with running("cvs-bench-quality-", env=env) as b:
        if DETECTOR.exists():
            target = b.data_dir / "models" / "objects"
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(DETECTOR, target / DETECTOR.name)
        ids = upload_all(b)
        hybrid = {}
        for query in QUERIES:
            r = b.client.get(f"/api/dataset/{b.dataset_id}/media", params={"q": query,
                                                                          "limit": 20})
            hybrid[query] = [m["id"] for m in r.json()["media"]]
        embedder = TextEmbedder()
        pg = EmbeddedPostgres(b.data_dir)
        engine = create_engine(sqlalchemy_url(pg.acquire()))
        scope = scoring.Scope(uuid.UUID(b.org_id), uuid.UUID(b.dataset_id))
        variants: dict[str, dict[str, list[str]]] = {}
        # (label, with the text part, with the vector part, text weight, min similarity)
        configs = [("text only", True, False, 1.0, 0.25),
                   ("vector only", False, True, 0.0, -1.0)]
        configs += [(f"w_text {w:.1f}, min {m:.2f}", True, True, w, m)
                    for w in (0.2, 0.3, 0.4) for m in (0.1, 0.15, 0.2, 0.25)]
        try:
            with Session(engine) as session:
                scoring.tune(session, 100, 20_000)
                for query in QUERIES:
                    vector = scoring.QueryVector(embedder.name, "text",
                                                 embedder.embed([query])[0])
                    for label, use_text, use_vector, w_text, min_sim in configs:
                        clause = scoring.hybrid(query if use_text else "",
                                                [vector] if use_vector else [], scope, 500,
                                                min_sim, w_text=w_text)
                        rows = session.execute(clause).all()
                        variants.setdefault(label, {})[query] = [
                            str(r.media_id) for r in sorted(rows, key=lambda r: -r.score)]
        finally:
            engine.dispose()
            pg.release()
        print(f"{len(ids)} pictures, {len(QUERIES)} queries, one right answer each")
        print(f"{'ranker':<24} {'hit@1':>6} {'hit@3':>6} {'MRR':>6}")
        print("(the same SQL, other weights; the server's defaults are w_text "
              f"{scoring.W_TEXT}, min similarity of the default settings)")
        figures: dict[str, float] = {"pictures": len(ids), "queries": len(QUERIES)}
        for label, ranking in (("hybrid (q)", hybrid), *variants.items()):
            h1, h3, mrr = score(ranking, ids)
            print(f"{label:<24} {h1:>6.2f} {h3:>6.2f} {mrr:>6.2f}")
            if label in ("hybrid (q)", "text only", "vector only"):
                key = label.split(" ")[0]
                figures.update({f"{key}_hit_at_1": round(h1, 3), f"{key}_hit_at_3": round(h3, 3),
                                f"{key}_mrr": round(mrr, 3)})
        names = {v: k for k, v in ids.items()}
        print("\nhybrid misses at rank 1 (query -> expected / got):")
        for query, expected in QUERIES.items():
            got = [names.get(m, "?") for m in hybrid[query][:3]]
            if not got or got[0] != expected:
                text = [names.get(m, "?") for m in variants["text only"][query][:3]]
                print(f"  {query!r:<34} -> {expected} / {got} (text only: {text})")
        print("RESULT " + json.dumps(figures))


if __name__ == "__main__":
    main()
