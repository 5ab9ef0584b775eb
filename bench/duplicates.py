"""The near-duplicate comparison of GET /api/dataset/{id}/duplicates: every hashed item's
64-bit hash against every other's (duplicates/service.py `_close_pairs`, numpy in blocks),
with a plain Python loop over fewer items as the baseline in the same run. Random hashes, plus
a few planted near copies that must be found.

Prints figures and a last line `RESULT {json}`. Run from the repository root:
`.venv/bin/python -m bench.duplicates [--items 20000] [--baseline-items 2000]`.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from coreviz_studio.duplicates.service import MAX_HASH_DISTANCE, _close_pairs
from coreviz_studio.pipeline.fingerprint import distance


def _hashes(n: int, planted: int, rng: random.Random) -> list[int]:
    values = [rng.getrandbits(64) - (1 << 63) for _ in range(n)]
    for i in range(planted):  # a near copy of item i: 3 bits flipped
        flipped = values[i]
        for bit in rng.sample(range(63), 3):
            flipped ^= 1 << bit
        values[n - 1 - i] = flipped
    return values


def _naive(values: list[int]) -> int:
    return sum(1 for i in range(len(values)) for j in range(i + 1, len(values))
               if distance(values[i], values[j]) <= MAX_HASH_DISTANCE)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--baseline-items", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(7)
    planted = 10
    values = _hashes(args.items, planted, rng)
    start = time.perf_counter()
    found = list(_close_pairs(values))
    took = time.perf_counter() - start
    pairs = args.items * (args.items - 1) / 2
    small = values[:args.baseline_items]
    start = time.perf_counter()
    _naive(small)
    naive_took = time.perf_counter() - start
    naive_pairs = len(small) * (len(small) - 1) / 2
    result = {"items": args.items, "seconds": round(took, 3),
              "pairs_per_second": round(pairs / took), "planted": planted,
              "found": len(found), "baseline_items": len(small),
              "baseline_pairs_per_second": round(naive_pairs / naive_took)}
    print(f"{args.items:,} hashes: {took:.2f} s ({pairs / took:,.0f} pairs/s), "
          f"{len(found)} close pairs ({planted} planted)")
    print(f"baseline, a Python loop over {len(small):,}: {naive_pairs / naive_took:,.0f} pairs/s")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
