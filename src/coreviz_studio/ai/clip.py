"""A CLIP-style model: images and texts embedded into one space, so text finds pictures.

No CLIP weights can be bundled (none are obtainable offline), so this is an optional "hub"
model an operator places under the models directory:

    <models_dir>/clip/
        clip.json        manifest, e.g.
                         {"name": "clip-vit-b-32", "image_size": 224,
                          "mean": [0.48145466, 0.4578275, 0.40821073],
                          "std": [0.26862954, 0.26130258, 0.27577711],
                          "context_length": 77, "dim": 512}
                         optional "pad_id" (default 0) pads short texts in a batch.
        image.onnx       input  pixel_values float32 [N, 3, S, S] (S = image_size; RGB scaled to
                                 0..1, then (x - mean) / std)
                         output image embeddings float32 [N, dim]; named "image_embeds", or the
                                 model's only (first) output
        text.onnx        inputs input_ids int64 [N, L] and attention_mask int64 [N, L] (the mask
                                 may be left out: a causal CLIP text tower ignores padding after
                                 the end token); int32 ids are accepted too
                         output text embeddings float32 [N, dim]; named "text_embeds", or the
                                 model's only (first) output
        tokenizer.json   the Hugging Face `tokenizers` file of the model (it adds the start and
                         end tokens itself); texts are cut to context_length tokens

Embeddings need not be normalised by the models: both sides are scaled to unit length here.

Producing the files for openai/clip-vit-base-patch32 (on any machine with torch + transformers;
never done by the product at test time). As far as the exporters' docs and sources show:

    * `optimum-cli export onnx --model openai/clip-vit-base-patch32 out/` gives ONE model.onnx
      that needs input_ids, attention_mask and pixel_values together (outputs logits_per_image,
      logits_per_text, text_embeds, image_embeds), so it cannot be used as is.
    * A split export gives the two towers: transformers.js' `scripts/convert.py --model_id
      openai/clip-vit-base-patch32 --split_modalities` (optimum configs for
      CLIPTextModelWithProjection and CLIPVisionModelWithProjection) writes text_model.onnx
      (input_ids, perhaps attention_mask -> text_embeds) and vision_model.onnx (pixel_values ->
      image_embeds), which is what the hub's Xenova/clip-vit-base-patch32 `onnx/` folder holds.
      Rename them to text.onnx and image.onnx; both input sets are accepted here.
    * Or export the towers directly with torch, which gives exactly the names above:

          m = CLIPModel.from_pretrained("openai/clip-vit-base-patch32").eval()
          class Img(torch.nn.Module):
              def forward(self, pixel_values): return m.get_image_features(pixel_values)
          class Txt(torch.nn.Module):
              def forward(self, input_ids, attention_mask):
                  return m.get_text_features(input_ids, attention_mask)
          torch.onnx.export(Img(), (torch.zeros(1, 3, 224, 224),), "image.onnx",
              input_names=["pixel_values"], output_names=["image_embeds"],
              dynamic_axes={"pixel_values": {0: "n"}, "image_embeds": {0: "n"}})
          ids = torch.ones(1, 77, dtype=torch.long)
          torch.onnx.export(Txt(), (ids, ids), "text.onnx",
              input_names=["input_ids", "attention_mask"], output_names=["text_embeds"],
              dynamic_axes={"input_ids": {0: "n", 1: "l"}, "attention_mask": {0: "n", 1: "l"},
                            "text_embeds": {0: "n"}})

    tokenizer.json is the one in the model's hub repository; mean, std and image_size
    (crop_size) come from its preprocessor_config.json, context_length
    (text_config.max_position_embeddings) and dim (projection_dim) from its config.json.

`Clip.find` checks the layout, the tokenizer and the models' declared inputs and outputs without
loading any weights (it reads only the ONNX graph header), so a broken directory is reported at
start-up; each tower's onnxruntime session is created on its first use.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from coreviz_studio.ai.base import Lazy, open_session

CLIP_DIR = "clip"
MANIFEST = "clip.json"
IMAGE_MODEL = "image.onnx"
TEXT_MODEL = "text.onnx"
TOKENIZER = "tokenizer.json"

_BATCH = 16  # images or texts per session run: bounds the memory of one call
_EPS = 1e-12

# ONNX TensorProto element types used here.
_FLOAT = 1
_INT32 = 6
_INT64 = 7
_ID_TYPES: dict[int, np.dtype[Any]] = {_INT32: np.dtype(np.int32), _INT64: np.dtype(np.int64)}


@dataclass(frozen=True)
class _Port:
    """One graph input or output as the ONNX file declares it."""

    name: str
    elem_type: int  # 0 when undeclared
    shape: tuple[int | None, ...] | None  # None: rank unknown; None dims are symbolic

    def describe(self) -> str:
        dims = (
            "?"
            if self.shape is None
            else ", ".join("?" if d is None else str(d) for d in self.shape)
        )
        return f"{self.name} [{dims}]"


@dataclass(frozen=True)
class _Manifest:
    name: str
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    context_length: int
    dim: int
    pad_id: int


class Clip:
    """Image and text towers of one CLIP model; thread-safe, loaded on first use."""

    def __init__(self, directory: Path, threads: int | None = None) -> None:
        """Check `directory` (see the module docstring) and get ready to load it; ValueError
        naming the problem when something is missing or does not fit."""
        self.directory = directory
        self.threads = threads
        self._manifest = _read_manifest(directory / MANIFEST)
        self.name = self._manifest.name
        self.dim = self._manifest.dim
        for filename in (IMAGE_MODEL, TEXT_MODEL, TOKENIZER):
            if not (directory / filename).is_file():
                raise ValueError(f"CLIP model in {directory}: {filename} is missing")
        self._image_output, self._image_batch = self._check_image_model()
        self._text_output, self._text_inputs, self._text_batch, self._text_length = (
            self._check_text_model()
        )
        # The tokenizer is small (about 2 MB for CLIP): read now, so a broken one shows at once.
        self._tokenizer = self._read_tokenizer()
        self._image_session: Lazy[Any] = Lazy(lambda: self._session(IMAGE_MODEL))
        self._text_session: Lazy[Any] = Lazy(lambda: self._session(TEXT_MODEL))

    @classmethod
    def find(cls, models_dir: Path, threads: int | None = None) -> Clip | None:
        """The CLIP model in `models_dir/clip/`, None when there is none (no directory or no
        manifest); ValueError when one is there but broken."""
        directory = models_dir / CLIP_DIR
        if not (directory / MANIFEST).is_file():
            return None
        return cls(directory, threads)

    def __repr__(self) -> str:
        return f"Clip({self.name!r}, dim={self.dim}, directory={str(self.directory)!r})"

    # -- embedding ------------------------------------------------------------------------

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(n, dim) unit-length float32 embeddings of `images` (any mode; RGB is used)."""
        if not images:
            return np.zeros((0, self.dim), np.float32)
        session = self._image()
        m = self._manifest
        mean = np.asarray(m.mean, np.float32)
        std = np.asarray(m.std, np.float32)
        batch = self._image_batch or _BATCH
        parts = []
        for start in range(0, len(images), batch):
            chunk = images[start : start + batch]
            pixels = np.stack([preprocess(img, m.image_size, mean, std) for img in chunk])
            (out,) = session.run([self._image_output], {"pixel_values": pixels})
            parts.append(self._checked(out, len(chunk), IMAGE_MODEL))
        return _unit(np.concatenate(parts))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) unit-length float32 embeddings of `texts`, each cut to context_length
        tokens."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        session = self._text()
        parts = []
        batch = self._text_batch or _BATCH
        for start in range(0, len(texts), batch):
            chunk = list(texts[start : start + batch])
            feeds = self._tokenize(chunk)
            (out,) = session.run([self._text_output], feeds)
            parts.append(self._checked(out, len(chunk), TEXT_MODEL))
        return _unit(np.concatenate(parts))

    def _tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        encodings = self._tokenizer.encode_batch(texts)
        # Pad to the model's fixed length when it has one, else to the longest text.
        length = self._text_length or max(len(e.ids) for e in encodings)
        ids = np.full((len(texts), length), self._manifest.pad_id, np.int64)
        mask = np.zeros((len(texts), length), np.int64)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            mask[row, :n] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        return {name: feeds[name].astype(dtype) for name, dtype in self._text_inputs.items()}

    def _checked(self, out: Any, n: int, filename: str) -> np.ndarray:
        array = np.asarray(out, dtype=np.float32)
        if array.shape != (n, self.dim):
            raise ValueError(
                f"CLIP model {self.name}: {filename} gave shape {list(array.shape)}, "
                f"expected [{n}, {self.dim}] (dim in {MANIFEST})"
            )
        return array

    # -- loading --------------------------------------------------------------------------

    def _image(self) -> Any:
        """The image session, created on first use."""
        return self._image_session.get()

    def _text(self) -> Any:
        """The text session, created on first use; kept apart from the image tower because a
        search process needs only texts and an indexing worker mostly images."""
        return self._text_session.get()

    def _session(self, filename: str) -> Any:
        try:
            return open_session(self.directory / filename, self.threads)
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"CLIP model in {self.directory}: {filename} cannot be loaded: {exc}"
            ) from exc

    # -- checks ---------------------------------------------------------------------------

    def _read_tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_file(str(self.directory / TOKENIZER))
        except Exception as exc:  # tokenizers raises a bare Exception for bad files
            raise self._problem(TOKENIZER, f"cannot be read: {exc}") from exc
        tokenizer.no_padding()  # padding is done here, to the model's length
        tokenizer.enable_truncation(max_length=self._manifest.context_length)
        return tokenizer

    def _problem(self, filename: str, text: str) -> ValueError:
        return ValueError(f"CLIP model in {self.directory}: {filename} {text}")

    def _check_image_model(self) -> tuple[str, int | None]:
        """The output to read and the fixed batch size (None when any)."""
        inputs, outputs = _signature(self.directory / IMAGE_MODEL)
        if [p.name for p in inputs] != ["pixel_values"]:
            raise self._problem(
                IMAGE_MODEL,
                "must have one input named pixel_values, has "
                + (", ".join(p.describe() for p in inputs) or "none"),
            )
        (pixels,) = inputs
        if pixels.elem_type not in (0, _FLOAT):
            raise self._problem(IMAGE_MODEL, "input pixel_values must be float32")
        size = self._manifest.image_size
        if pixels.shape is not None and (
            len(pixels.shape) != 4
            or pixels.shape[1] not in (None, 3)
            or any(d not in (None, size) for d in pixels.shape[2:])
        ):
            raise self._problem(
                IMAGE_MODEL,
                f"input {pixels.describe()} does not take [N, 3, {size}, {size}] "
                f"(image_size {size} in {MANIFEST})",
            )
        output = self._pick_output(IMAGE_MODEL, outputs, "image_embeds")
        return output, pixels.shape[0] if pixels.shape else None

    def _check_text_model(
        self,
    ) -> tuple[str, dict[str, np.dtype[Any]], int | None, int | None]:
        """The output to read, the inputs to feed with their dtypes, and the fixed batch size
        and sequence length (None when any)."""
        inputs, outputs = _signature(self.directory / TEXT_MODEL)
        names = [p.name for p in inputs]
        if "input_ids" not in names or not set(names) <= {"input_ids", "attention_mask"}:
            raise self._problem(
                TEXT_MODEL,
                "must have inputs input_ids and (optionally) attention_mask, has "
                + (", ".join(p.describe() for p in inputs) or "none"),
            )
        feeds: dict[str, np.dtype[Any]] = {}
        batch: int | None = None
        length: int | None = None
        for port in inputs:
            if port.elem_type not in (0, *_ID_TYPES):
                raise self._problem(TEXT_MODEL, f"input {port.name} must be int64 (or int32)")
            feeds[port.name] = _ID_TYPES.get(port.elem_type, np.dtype(np.int64))
            if port.shape is None:
                continue
            if len(port.shape) != 2:
                raise self._problem(TEXT_MODEL, f"input {port.describe()} is not [N, L]")
            if port.shape[1] is not None:
                if port.shape[1] != self._manifest.context_length:
                    raise self._problem(
                        TEXT_MODEL,
                        f"input {port.describe()} has a fixed length other than context_length "
                        f"{self._manifest.context_length} in {MANIFEST}",
                    )
                length = port.shape[1]
            batch = batch or port.shape[0]
        return self._pick_output(TEXT_MODEL, outputs, "text_embeds"), feeds, batch, length

    def _pick_output(self, filename: str, outputs: list[_Port], preferred: str) -> str:
        if not outputs:
            raise self._problem(filename, "has no output")
        port = next((p for p in outputs if p.name == preferred), outputs[0])
        if port.shape is not None:
            if len(port.shape) != 2:
                raise self._problem(filename, f"output {port.describe()} is not [N, dim]")
            if port.shape[1] is not None and port.shape[1] != self.dim:
                raise self._problem(
                    filename,
                    f"output {port.describe()} has width {port.shape[1]}, but dim in "
                    f"{MANIFEST} is {self.dim}",
                )
        return port.name


def preprocess(image: Image.Image, size: int, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """CLIP's preprocessing: shorter side resized to `size` (bicubic), centre crop of
    size x size, RGB scaled to 0..1 and normalised with mean/std; (3, size, size) float32."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    scale = size / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    if (new_w, new_h) != (width, height):
        # reducing_gap first shrinks by whole factors: much faster on camera-sized images, and
        # the result differs from a plain bicubic resize by far less than JPEG noise.
        rgb = rgb.resize((new_w, new_h), Image.Resampling.BICUBIC, reducing_gap=3.0)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    rgb = rgb.crop((left, top, left + size, top + size))
    pixels = np.asarray(rgb, dtype=np.float32) / 255.0
    return ((pixels - mean) / std).transpose(2, 0, 1).astype(np.float32)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, _EPS)).astype(np.float32)


def _read_manifest(path: Path) -> _Manifest:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"CLIP manifest {path} cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"CLIP manifest {path} must be a JSON object")

    def problem(text: str) -> ValueError:
        return ValueError(f"CLIP manifest {path}: {text}")

    def positive_int(key: str) -> int:
        value = data.get(key)
        # bool is an int in Python; true is no size.
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise problem(f"{key} must be a positive integer, is {value!r}")
        return value

    def triple(key: str, positive: bool) -> tuple[float, float, float]:
        value = data.get(key)
        if (
            not isinstance(value, list)
            or len(value) != 3
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            or (positive and not all(v > 0 for v in value))
        ):
            kind = "positive numbers" if positive else "numbers"
            raise problem(f"{key} must be a list of 3 {kind} (R, G, B), is {value!r}")
        return (float(value[0]), float(value[1]), float(value[2]))

    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise problem(f"name must be a non-empty string, is {name!r}")
    pad_id = data.get("pad_id", 0)
    if not isinstance(pad_id, int) or isinstance(pad_id, bool) or pad_id < 0:
        raise problem(f"pad_id must be a token id, is {pad_id!r}")
    return _Manifest(
        name=name.strip(),
        image_size=positive_int("image_size"),
        mean=triple("mean", positive=False),
        std=triple("std", positive=True),
        context_length=positive_int("context_length"),
        dim=positive_int("dim"),
        pad_id=pad_id,
    )


# -- the ONNX graph header, read without loading weights ------------------------------------
#
# An ONNX file is a protobuf ModelProto. Only the graph's inputs, outputs and initializer names
# are needed, so the wire format is walked directly over an mmap: the weights (hundreds of MB
# for CLIP) are skipped by length, never read, and neither the onnx package nor a session is
# needed at start-up. Field numbers are from onnx.proto3.

_MODEL_GRAPH = 7
_GRAPH_INITIALIZER, _GRAPH_INPUT, _GRAPH_OUTPUT = 5, 11, 12
_TENSOR_NAME = 8
_VALUE_NAME, _VALUE_TYPE = 1, 2
_TYPE_TENSOR = 1
_TENSOR_ELEM_TYPE, _TENSOR_SHAPE = 1, 2
_SHAPE_DIM = 1
_DIM_VALUE = 1


def _signature(path: Path) -> tuple[list[_Port], list[_Port]]:
    """The graph inputs (initializers left out) and outputs declared in the ONNX file."""
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _read_signature(buf)
    except (OSError, ValueError, IndexError) as exc:
        # mmap refuses empty files (ValueError); a cut-off varint runs off the end (IndexError).
        raise ValueError(f"{path} is not a readable ONNX model ({exc or 'truncated'})") from exc


def _read_signature(buf: mmap.mmap) -> tuple[list[_Port], list[_Port]]:
    graphs = list(_children(buf, 0, len(buf), _MODEL_GRAPH))
    if not graphs:
        raise ValueError("no graph")
    start, end = graphs[-1]  # protobuf: the last occurrence of a singular field wins
    initializers: set[str] = set()
    inputs: list[_Port] = []
    outputs: list[_Port] = []
    for number, wire, a, b in _fields(buf, start, end):
        if wire != 2:
            continue
        if number == _GRAPH_INITIALIZER:
            initializers.update(buf[s:e].decode() for s, e in _children(buf, a, b, _TENSOR_NAME))
        elif number == _GRAPH_INPUT:
            inputs.append(_port(buf, a, b))
        elif number == _GRAPH_OUTPUT:
            outputs.append(_port(buf, a, b))
    # Older exporters also list the weights as graph inputs; those are not fed.
    return [p for p in inputs if p.name not in initializers], outputs


def _port(buf: mmap.mmap, start: int, end: int) -> _Port:
    name, elem_type, shape = "", 0, None
    for s, e in _children(buf, start, end, _VALUE_NAME):
        name = buf[s:e].decode(errors="replace")
    for type_span in _children(buf, start, end, _VALUE_TYPE):
        for tensor in _children(buf, *type_span, _TYPE_TENSOR):  # other kinds: sequences, maps
            for number, wire, a, b in _fields(buf, *tensor):
                if number == _TENSOR_ELEM_TYPE and wire == 0:
                    elem_type = a
                elif number == _TENSOR_SHAPE and wire == 2:
                    shape = tuple(_dim(buf, *dim) for dim in _children(buf, a, b, _SHAPE_DIM))
    return _Port(name, elem_type, shape)


def _dim(buf: mmap.mmap, start: int, end: int) -> int | None:
    """A fixed dimension, or None for a symbolic (dim_param) or unknown one."""
    value = None
    for number, wire, a, _ in _fields(buf, start, end):
        if number == _DIM_VALUE and wire == 0:
            value = a - (1 << 64) if a >= 1 << 63 else a  # int64 travels as two's complement
    return value if value is not None and value > 0 else None


def _children(buf: mmap.mmap, start: int, end: int, wanted: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each length-delimited field numbered `wanted` in buf[start:end]."""
    for number, wire, a, b in _fields(buf, start, end):
        if number == wanted and wire == 2:
            yield a, b


def _fields(buf: mmap.mmap, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(number, wire type, a, b) of each field in buf[start:end]: a varint's value is a; a
    length-delimited field's content is buf[a:b]; fixed-width fields are skipped."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value, 0
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > end:
                raise ValueError("truncated")
            yield number, wire, pos, pos + length
            pos += length
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    if pos != end:
        raise ValueError("truncated")


def _varint(buf: mmap.mmap, pos: int) -> tuple[int, int]:
    """The varint at `pos` and the position after it."""
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("bad varint")
