"""The CLIP wrapper against tiny CLIP-shaped ONNX models built here (no real weights needed):
the directory layout, the checks that name what is broken, preprocessing and tokenisation."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

from coreviz_studio.ai.clip import Clip, _signature, preprocess

DIM = 8
SIZE = 8
CONTEXT = 6
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]
VOCAB = ["<pad>", "<s>", "</s>", "[UNK]", "a", "photo", "of", "cat", "dog", "red", "car"]
OPSET = [helper.make_opsetid("", 17)]

RNG = np.random.default_rng(7)
IMAGE_W = RNG.normal(size=(3, DIM)).astype(np.float32)  # mean colour -> embedding
TABLE = RNG.normal(size=(len(VOCAB), DIM)).astype(np.float32)  # token embeddings
PROJ = RNG.normal(size=(DIM, DIM)).astype(np.float32)


def save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=OPSET, ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def image_graph(
    input_name: str = "pixel_values",
    size: int = SIZE,
    out_dim: int = DIM,
    declare_output: bool = True,
    weights_as_inputs: bool = False,
    batch: int | str = "N",
) -> onnx.GraphProto:
    """pixel_values [N,3,S,S] -> GlobalAveragePool -> Flatten -> MatMul W -> [N, out_dim]."""
    w = IMAGE_W if out_dim == DIM else RNG.normal(size=(3, out_dim)).astype(np.float32)
    pixels = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [batch, 3, size, size])
    out = helper.make_tensor_value_info(
        "image_embeds", TensorProto.FLOAT, [batch, out_dim if declare_output else "D"]
    )
    inputs = [pixels]
    if weights_as_inputs:  # as old exporters (IR < 4) wrote it
        inputs.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, [3, out_dim]))
    return helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", [input_name], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "W"], ["image_embeds"]),
        ],
        "image",
        inputs,
        [out],
        initializer=[numpy_helper.from_array(w, "W")],
    )


def text_graph(
    ids_name: str = "input_ids", length: int | str = "L", with_mask: bool = True
) -> onnx.GraphProto:
    """input_ids [N,L] -> Gather the table -> mean over unmasked tokens -> MatMul P -> [N, DIM]."""
    ids = helper.make_tensor_value_info(ids_name, TensorProto.INT64, ["N", length])
    out = helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["N", DIM])
    inits = [
        numpy_helper.from_array(TABLE, "table"),
        numpy_helper.from_array(PROJ, "P"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array([2], np.int64), "axis2"),
    ]
    nodes = [helper.make_node("Gather", ["table", ids_name], ["tokens"], axis=0)]
    inputs = [ids]
    if with_mask:
        inputs.append(
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["N", length])
        )
        nodes += [
            helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
            helper.make_node("Mul", ["tokens", "mask3"], ["kept"]),
            helper.make_node("ReduceSum", ["kept", "axis1"], ["total"], keepdims=0),
            helper.make_node("ReduceSum", ["maskf", "axis1"], ["count"], keepdims=1),
            helper.make_node("Div", ["total", "count"], ["pooled"]),
        ]
    else:
        nodes.append(helper.make_node("ReduceMean", ["tokens"], ["pooled"], axes=[1], keepdims=0))
    nodes.append(helper.make_node("MatMul", ["pooled", "P"], ["text_embeds"]))
    return helper.make_graph(nodes, "text", inputs, [out], initializer=inits)


def write_tokenizer(path: Path) -> None:
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)]
    )
    tok.save(str(path))


def write_manifest(directory: Path, **changes: Any) -> None:
    manifest = {
        "name": "tiny-clip",
        "image_size": SIZE,
        "mean": MEAN,
        "std": STD,
        "context_length": CONTEXT,
        "dim": DIM,
    }
    manifest.update(changes)
    (directory / "clip.json").write_text(json.dumps(manifest))


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "clip"
    directory.mkdir()
    save(image_graph(), directory / "image.onnx")
    save(text_graph(), directory / "text.onnx")
    write_tokenizer(directory / "tokenizer.json")
    write_manifest(directory)
    return tmp_path


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def expected_image(rgb: tuple[int, int, int]) -> np.ndarray:
    """By hand: the normalised colour is the pooled value, then the projection."""
    pooled = (np.array(rgb) / 255.0 - np.array(MEAN)) / np.array(STD)
    return unit(pooled @ IMAGE_W)


def expected_text(words: list[str]) -> np.ndarray:
    ids = [1, *(VOCAB.index(w) for w in words), 2]
    return unit(TABLE[ids].mean(axis=0) @ PROJ)


# -- finding and loading --------------------------------------------------------------------


def test_find_returns_none_without_a_clip_directory(tmp_path: Path) -> None:
    assert Clip.find(tmp_path) is None
    (tmp_path / "clip").mkdir()
    assert Clip.find(tmp_path) is None  # a directory without a manifest is no model either


def test_find_loads_lazily(models_dir: Path) -> None:
    clip = Clip.find(models_dir, threads=1)
    assert clip is not None
    assert (clip.name, clip.dim) == ("tiny-clip", DIM)
    assert not clip._image_session.loaded and not clip._text_session.loaded  # nothing loaded yet
    clip.embed_texts(["a cat"])
    assert clip._text_session.loaded and not clip._image_session.loaded  # only what is used
    clip.embed_images([Image.new("RGB", (8, 8))])
    assert clip._image_session.loaded


def test_signature_reader_agrees_with_onnx(models_dir: Path) -> None:
    for filename in ("image.onnx", "text.onnx"):
        model = onnx.load(str(models_dir / "clip" / filename))
        inputs, outputs = _signature(models_dir / "clip" / filename)
        for ports, infos in ((inputs, model.graph.input), (outputs, model.graph.output)):
            assert [p.name for p in ports] == [i.name for i in infos]
            for port, info in zip(ports, infos, strict=True):
                assert port.elem_type == info.type.tensor_type.elem_type
                dims = [d.dim_value or None for d in info.type.tensor_type.shape.dim]
                assert list(port.shape or ()) == dims


# -- images ---------------------------------------------------------------------------------


def test_image_embeddings_are_unit_vectors_of_the_right_shape(models_dir: Path) -> None:
    clip = Clip.find(models_dir)
    assert clip is not None
    images = [Image.new("RGB", (30 + i, 20), (i * 40, 100, 200 - i * 30)) for i in range(5)]
    vectors = clip.embed_images(images)
    assert vectors.shape == (5, DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert clip.embed_images([]).shape == (0, DIM)


def test_pure_colour_image_gives_the_embedding_computed_by_hand(models_dir: Path) -> None:
    clip = Clip.find(models_dir)
    assert clip is not None
    colour = (200, 30, 90)
    (vector,) = clip.embed_images([Image.new("RGB", (40, 25), colour)])
    np.testing.assert_allclose(vector, expected_image(colour), atol=1e-5)


def test_preprocessing_normalises_with_mean_and_std() -> None:
    pixels = preprocess(
        Image.new("RGB", (20, 10), (10, 200, 30)), SIZE, np.array(MEAN), np.array(STD)
    )
    assert pixels.shape == (3, SIZE, SIZE) and pixels.dtype == np.float32
    want = (np.array([10, 200, 30]) / 255.0 - np.array(MEAN)) / np.array(STD)
    np.testing.assert_allclose(
        pixels, np.broadcast_to(want[:, None, None], pixels.shape), atol=1e-5
    )


def test_wide_image_is_centre_cropped(models_dir: Path) -> None:
    # 24 x 8: the shorter side is already 8, so only the crop acts and keeps the middle third.
    image = Image.new("RGB", (3 * SIZE, SIZE), (255, 0, 0))
    image.paste((0, 255, 0), (SIZE, 0, 2 * SIZE, SIZE))
    image.paste((0, 0, 255), (2 * SIZE, 0, 3 * SIZE, SIZE))
    clip = Clip.find(models_dir)
    assert clip is not None
    (vector,) = clip.embed_images([image])
    np.testing.assert_allclose(vector, expected_image((0, 255, 0)), atol=1e-5)


def test_tall_image_is_resized_then_centre_cropped(models_dir: Path) -> None:
    # 16 x 32 -> 8 x 16, crop rows 4..12: the red bands at the ends fall outside the crop.
    image = Image.new("RGB", (16, 32), (255, 0, 0))
    image.paste((0, 0, 255), (0, 4, 16, 28))
    clip = Clip.find(models_dir)
    assert clip is not None
    (vector,) = clip.embed_images([image])
    np.testing.assert_allclose(vector, expected_image((0, 0, 255)), atol=1e-4)


def test_non_rgb_images_are_converted(models_dir: Path) -> None:
    clip = Clip.find(models_dir)
    assert clip is not None
    grey, rgba = clip.embed_images(
        [Image.new("L", (9, 9), 77), Image.new("RGBA", (9, 9), (77, 77, 77, 10))]
    )
    np.testing.assert_allclose(grey, expected_image((77, 77, 77)), atol=1e-5)
    np.testing.assert_allclose(rgba, grey, atol=1e-6)


# -- texts ----------------------------------------------------------------------------------


def test_text_embeddings(models_dir: Path) -> None:
    clip = Clip.find(models_dir)
    assert clip is not None
    texts = ["a cat", "Photo of a dog", "a cat", "red car"]
    vectors = clip.embed_texts(texts)
    assert vectors.shape == (4, DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[0], vectors[2], atol=1e-6)  # same text, same vector
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)
    assert not np.allclose(vectors[0], vectors[3], atol=1e-3)
    # Padding in a batch changes nothing: the mask is fed, and matches the hand computation.
    np.testing.assert_allclose(vectors[0], clip.embed_texts(["a cat"])[0], atol=1e-6)
    np.testing.assert_allclose(vectors[0], expected_text(["a", "cat"]), atol=1e-5)
    np.testing.assert_allclose(vectors[1], expected_text(["photo", "of", "a", "dog"]), atol=1e-5)
    assert clip.embed_texts([]).shape == (0, DIM)


def test_long_text_is_cut_to_context_length_keeping_the_end_token(models_dir: Path) -> None:
    clip = Clip.find(models_dir)
    assert clip is not None
    (vector,) = clip.embed_texts(["a photo of a red car and a dog"])
    # CONTEXT = 6 tokens: <s> + 4 words + </s>.
    np.testing.assert_allclose(vector, expected_text(["a", "photo", "of", "a"]), atol=1e-5)


def test_fixed_length_text_model_is_padded_to_its_length(models_dir: Path) -> None:
    save(text_graph(length=CONTEXT), models_dir / "clip" / "text.onnx")
    clip = Clip.find(models_dir)
    assert clip is not None
    np.testing.assert_allclose(
        clip.embed_texts(["a cat"])[0], expected_text(["a", "cat"]), atol=1e-5
    )


def test_text_model_without_attention_mask_is_accepted(models_dir: Path) -> None:
    save(text_graph(with_mask=False), models_dir / "clip" / "text.onnx")
    clip = Clip.find(models_dir)
    assert clip is not None
    (vector,) = clip.embed_texts(["a cat"])  # one text: no padding, so the plain mean is exact
    np.testing.assert_allclose(vector, expected_text(["a", "cat"]), atol=1e-5)


def test_concurrent_first_use_loads_once_and_agrees(models_dir: Path) -> None:
    clip = Clip.find(models_dir, threads=1)
    assert clip is not None
    results: list[np.ndarray] = []
    sessions: set[int] = set()

    def work() -> None:
        results.append(clip.embed_texts(["a red car"]))
        sessions.add(id(clip._text_session.get()))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(sessions) == 1
    for r in results:
        np.testing.assert_allclose(r, results[0], atol=1e-6)


def test_model_with_a_fixed_batch_of_one_gets_one_image_at_a_time(models_dir: Path) -> None:
    save(image_graph(batch=1), models_dir / "clip" / "image.onnx")
    clip = Clip.find(models_dir)
    assert clip is not None
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    vectors = clip.embed_images([Image.new("RGB", (8, 8), c) for c in colours])
    np.testing.assert_allclose(vectors, [expected_image(c) for c in colours], atol=1e-5)


def test_old_style_graph_listing_weights_as_inputs(models_dir: Path) -> None:
    save(image_graph(weights_as_inputs=True), models_dir / "clip" / "image.onnx")
    clip = Clip.find(models_dir)
    assert clip is not None
    (vector,) = clip.embed_images([Image.new("RGB", (8, 8), (1, 2, 3))])
    np.testing.assert_allclose(vector, expected_image((1, 2, 3)), atol=1e-5)


# -- broken directories ---------------------------------------------------------------------


def broken(models_dir: Path) -> str:
    with pytest.raises(ValueError) as info:
        Clip.find(models_dir)
    return str(info.value)


def test_missing_file_is_named(models_dir: Path) -> None:
    (models_dir / "clip" / "text.onnx").unlink()
    assert "text.onnx is missing" in broken(models_dir)


def test_missing_tokenizer_is_named(models_dir: Path) -> None:
    (models_dir / "clip" / "tokenizer.json").unlink()
    assert "tokenizer.json is missing" in broken(models_dir)


def test_unreadable_tokenizer_is_named(models_dir: Path) -> None:
    (models_dir / "clip" / "tokenizer.json").write_text('{"model": "nonsense"}')
    message = broken(models_dir)
    assert "tokenizer.json cannot be read" in message


def test_wrong_image_input_name(models_dir: Path) -> None:
    save(image_graph(input_name="input"), models_dir / "clip" / "image.onnx")
    message = broken(models_dir)
    assert "image.onnx" in message and "pixel_values" in message and "input [?, 3, 8, 8]" in message


def test_wrong_text_input_name(models_dir: Path) -> None:
    save(text_graph(ids_name="tokens_in"), models_dir / "clip" / "text.onnx")
    message = broken(models_dir)
    assert "text.onnx" in message and "input_ids" in message and "tokens_in" in message


def test_manifest_dim_differs_from_model_output(models_dir: Path) -> None:
    write_manifest(models_dir / "clip", dim=16)
    message = broken(models_dir)
    assert "width 8" in message and "dim" in message and "16" in message


def test_image_size_differs_from_model_input(models_dir: Path) -> None:
    write_manifest(models_dir / "clip", image_size=224)
    message = broken(models_dir)
    assert "image.onnx" in message and "224" in message


def test_fixed_text_length_differs_from_context_length(models_dir: Path) -> None:
    save(text_graph(length=77), models_dir / "clip" / "text.onnx")
    message = broken(models_dir)
    assert "context_length" in message and "77" in message


def test_undeclared_output_width_is_checked_on_use(models_dir: Path) -> None:
    save(image_graph(out_dim=5, declare_output=False), models_dir / "clip" / "image.onnx")
    clip = Clip.find(models_dir)  # nothing declared to check against yet
    assert clip is not None
    with pytest.raises(ValueError, match=r"image.onnx gave shape \[1, 5\], expected \[1, 8\]"):
        clip.embed_images([Image.new("RGB", (8, 8))])


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        ("{not json", "cannot be read"),
        ("[1, 2]", "must be a JSON object"),
        (
            json.dumps({"name": "x", "image_size": 8, "mean": MEAN, "std": STD, "dim": 8}),
            "context_length",
        ),
        (
            json.dumps(
                {
                    "name": "x",
                    "image_size": 8,
                    "mean": [0.5],
                    "std": STD,
                    "context_length": 6,
                    "dim": 8,
                }
            ),
            "mean",
        ),
        (
            json.dumps(
                {
                    "name": "x",
                    "image_size": 8,
                    "mean": MEAN,
                    "std": [1, 0, 1],
                    "context_length": 6,
                    "dim": 8,
                }
            ),
            "std",
        ),
        (
            json.dumps(
                {
                    "name": "",
                    "image_size": 8,
                    "mean": MEAN,
                    "std": STD,
                    "context_length": 6,
                    "dim": 8,
                }
            ),
            "name",
        ),
        (
            json.dumps(
                {
                    "name": "x",
                    "image_size": True,
                    "mean": MEAN,
                    "std": STD,
                    "context_length": 6,
                    "dim": 8,
                }
            ),
            "image_size",
        ),
    ],
)
def test_broken_manifest(models_dir: Path, manifest: str, problem: str) -> None:
    (models_dir / "clip" / "clip.json").write_text(manifest)
    message = broken(models_dir)
    assert "clip.json" in message and problem in message


@pytest.mark.parametrize("content", [b"", b"not an onnx model at all", None])
def test_unreadable_model_file(models_dir: Path, content: bytes | None) -> None:
    path = models_dir / "clip" / "image.onnx"
    # None: a real model cut short, as an interrupted copy leaves it.
    path.write_bytes(path.read_bytes()[:100] if content is None else content)
    message = broken(models_dir)
    assert "image.onnx" in message and "not a readable ONNX model" in message
