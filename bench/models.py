"""Each model's cost per image on the pipeline benchmark's real photos, before and after.

The photos are `bench.pipeline.photos` (scikit-image's, cropped and flipped; a quarter
upscaled to 4000 x 3000 like a phone's), decoded to frames as a worker would. For each stage
the previous path and the current one run in the same process on the same frames:

- decode: the JPEG decoded whole then scaled to the frame size (and EXIF applied on a copy),
  vs `pipeline.decode.decode` (DCT-scaled decoding);
- faces: HOG on the whole frame (small pictures enlarged 2x) vs a copy of about 640 x 480;
- text: detection and reading at 960 px on every frame vs a 480 px detection pass first;
- labels, moderation, objects: one call per image vs one batch call;
- text embedding (one short text per image).

CPU time (`time.process_time`, every model on one thread as `COREVIZ_MODEL_THREADS=1`) is the
figure to compare on a shared machine; wall time is printed beside it. The results of both
paths are compared too (faces found and how far their boxes moved, lines of text read).
Prints a table and a last line `RESULT {json}`; nothing is asserted. From the repository root:
    .venv/bin/python -m bench.models [--images 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image, ImageOps

from bench.pipeline import DETECTOR, photos
from coreviz_studio.ai.types import Found
from coreviz_studio.pipeline import decode as decoding

T = TypeVar("T")
THREADS = 1


class Clock:
    """CPU and wall seconds per stage and path, summed over calls."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}

    def time(self, key: str, work: Callable[..., T], *args: Any) -> T:
        cpu, wall = time.process_time(), time.perf_counter()
        result = work(*args)
        self.cpu[key] = self.cpu.get(key, 0.0) + time.process_time() - cpu
        self.wall[key] = self.wall.get(key, 0.0) + time.perf_counter() - wall
        return result


def old_decode(src: Path, out: Path, limits: decoding.Limits) -> Image.Image:
    """The image path before DCT-scaled decoding: what decode.py did until this change."""
    with Image.open(src) as img:
        img.draft("RGB", (limits.frame_max_side, limits.frame_max_side))
        img.load()
        upright = ImageOps.exif_transpose(img)
        decoding._save(upright, out, 0, limits)
    return Image.open(out / "00000.jpg")


def boxes_moved(before: list[Found], after: list[Found]) -> tuple[int, int, float, float]:
    """(found before, found after, largest corner shift in pixels between matched boxes, and
    as a fraction of the box's width)."""
    worst = relative = 0.0
    for a in before:
        if not after:
            break
        b = min(after, key=lambda f: abs(f.box.x - a.box.x) + abs(f.box.y - a.box.y))
        shift = max(abs(a.box.x - b.box.x), abs(a.box.y - b.box.y),
                    abs(a.box.x + a.box.width - b.box.x - b.box.width),
                    abs(a.box.y + a.box.height - b.box.y - b.box.height))
        worst = max(worst, shift)
        relative = max(relative, shift / max(a.box.width, 1.0))
    return len(before), len(after), worst, relative


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=40)
    args = parser.parse_args()
    clock = Clock()
    limits = decoding.Limits()
    frames: list[Image.Image] = []
    sizes: list[tuple[int, int]] = []
    with tempfile.TemporaryDirectory(prefix="cvs-bench-models-") as tmp:
        root = Path(tmp)
        for i, data in enumerate(photos(args.images)):
            src = root / f"{i}.jpg"
            src.write_bytes(data)
            before, after = root / f"{i}-before", root / f"{i}-after"
            before.mkdir()
            after.mkdir()
            old = clock.time("decode_before", old_decode, src, before, limits)
            decoded = clock.time("decode_after", decoding.decode, "image", src, after, limits)
            with Image.open(after / decoded.frames[0].image) as frame:
                frames.append(frame.convert("RGB"))
            sizes.append((old.width, frames[-1].width))
    n = len(frames)
    figures: dict[str, Any] = {"images": n, "threads": THREADS}
    print(f"{n} photos; frame long sides before/after DCT scaling: "
          f"{sorted({s for s in sizes if s[0] != s[1]})} (others unchanged)")

    from coreviz_studio.ai.efficientnet import ImageFeatures
    from coreviz_studio.ai.faces import Faces
    from coreviz_studio.ai.moderation import Moderator
    from coreviz_studio.ai.ocr import TextReader
    from coreviz_studio.ai.text_embedding import TextEmbedder

    whole, searched = Faces(search_pixels=10**9), Faces()
    whole.load()
    searched._loaded = whole._loaded  # one set of dlib models for both paths
    shifts, relative, found = [], [], [0, 0]
    for frame in frames:
        a = clock.time("faces_before", whole.detect, frame)
        b = clock.time("faces_after", searched.detect, frame)
        before_n, after_n, shift, share = boxes_moved(a, b)
        found[0] += before_n
        found[1] += after_n
        if before_n and after_n:
            shifts.append(shift)
            relative.append(share)
    figures.update(faces_found_before=found[0], faces_found_after=found[1],
                   faces_max_box_shift_px=round(max(shifts, default=0.0), 1),
                   faces_max_box_shift_of_width=round(max(relative, default=0.0), 3))

    reader = TextReader(threads=THREADS, max_side=960, gate_side=None)
    gated = TextReader(threads=THREADS, max_side=960)
    reader.load()
    gated._engine = reader._engine
    same_text = 0
    lines = 0
    for frame in frames:
        a = clock.time("text_before", reader.read, frame)
        b = clock.time("text_after", gated.read, frame)
        same_text += [f.label for f in a] == [f.label for f in b]
        lines += len(a)
    figures.update(text_lines_before=lines, text_same_lines_images=same_text)

    features = ImageFeatures(threads=THREADS)
    features.load()
    clock.time("labels_before", lambda: [features.analyze([f]) for f in frames])
    clock.time("labels_after", lambda: features.analyze(frames))

    moderator = Moderator(threads=THREADS)
    moderator.load()
    clock.time("moderation_before", lambda: [moderator.classify(f) for f in frames])
    clock.time("moderation_after", lambda: moderator.classify_batch(frames))

    if DETECTOR.exists():
        from coreviz_studio.ai.detector import ObjectDetector

        detector = ObjectDetector(DETECTOR, threads=THREADS)
        detector.load()
        clock.time("objects_before", lambda: [detector.detect(f) for f in frames])
        clock.time("objects_after", lambda: detector.detect_batch(frames))

    embedder = TextEmbedder(threads=THREADS)
    texts = [f"A photo of a cat, tabby, Egyptian cat. {i} faces." for i in range(n)]
    embedder.embed(texts[:1])
    clock.time("text_embedding_before", lambda: [embedder.embed([t]) for t in texts])
    clock.time("text_embedding_after", lambda: embedder.embed(texts))

    print(f"\nper image, ms (CPU time; wall time in brackets), {THREADS} model thread:")
    print(f"  {'stage':<16}{'before':>18}{'after':>18}")
    total = {"before": 0.0, "after": 0.0}
    stages = sorted({k.rsplit("_", 1)[0] for k in clock.cpu})
    for stage in stages:
        row = []
        for path in ("before", "after"):
            cpu = clock.cpu[f"{stage}_{path}"] / n * 1000
            wall = clock.wall[f"{stage}_{path}"] / n * 1000
            total[path] += cpu
            figures[f"{stage}_{path}_cpu_ms"] = round(cpu, 1)
            figures[f"{stage}_{path}_wall_ms"] = round(wall, 1)
            row.append(f"{cpu:8.1f} ({wall:6.1f})")
        print(f"  {stage:<16}{row[0]:>18}{row[1]:>18}")
    print(f"  {'total':<16}{total['before']:>9.1f}{'':9}{total['after']:>9.1f}")
    for path in ("before", "after"):
        figures[f"total_{path}_cpu_ms"] = round(total[path], 1)
        # Two cores each busy with one image at a time: an upper bound for the pipeline,
        # which also stores results and makes thumbnails.
        figures[f"models_images_per_s_2_cores_{path}"] = round(2000 / total[path], 2)
    print(f"  faces found {found[0]} -> {found[1]}, boxes moved at most "
          f"{figures['faces_max_box_shift_px']} px ("
          f"{figures['faces_max_box_shift_of_width']:.0%} of a box's width); "
          f"text: {lines} lines read before, "
          f"{same_text}/{n} images read the same")
    print(f"  median frame long side: {statistics.median(max(f.size) for f in frames)} px")
    print("RESULT " + json.dumps(figures))


if __name__ == "__main__":
    main()
