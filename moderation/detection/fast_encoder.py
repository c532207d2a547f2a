"""all-MiniLM-L6-v2 as one onnxruntime graph with 8-bit products: the second stage's fast encoder.

`semantic.Encoder` runs the model's forward pass in numpy, exactly (float32, to 1e-4 of
sentence-transformers). At a message's length most of that pass is spent reading 42 MB of
float32 weights and multiplying by them, which puts its p99 over the 5 ms budget. This
encoder builds the same network as an ONNX graph from the same weights when the stage loads
(nothing is stored or downloaded; about a second) and runs it on one thread, with every
product in 8 bits:

- the attention's two products (query/key/value and output) and the feed-forward's first
  (``up``) as onnxruntime's ``DynamicQuantizeMatMul``: int8 weights, one scale per output
  column, the activations quantized to 8 bits with one scale per call. One scale for a whole
  activation matrix is coarse where a few of its 384 channels are far larger than the rest, as
  after BERT's layer norms; so the inputs of the query/key/value and ``up`` products are
  *smoothed* first (SmoothQuant, Xiao et al. 2023): channel j is divided by
  s_j = range_j ** ALPHA / max|w_j| ** (1 - ALPHA) and the weight's row j multiplied by it,
  the same product with the outliers moved into the weights. The ranges (the largest |input|
  per channel over the curated phrases of ``examples.toml``, from the exact pass) are a data
  file, ``data/semantic/ranges.npz``, written by ``bench/semantic_ranges.py``. The weights go in
  as int8 on a CPU with VNNI and as the same codes in uint8 elsewhere (`has_vnni`).
- the feed-forward's second product (``down``, after the gelu, whose outlier channels no
  smoothing tamed) with the weights in 8 bits per block of 32 inputs (``MatMulNBits``,
  accuracy level 4: int8 products, the activations quantized per block of 32 as well).

Its pooled vectors are within cosine 0.998 of the exact ones (0.9984 at worst and about
0.9997 on average over the development set; test_fast_encoder.py checks it). The trained head
is the one trained on exact features, used unchanged (docs/moderation.md, "The fast encoder").
Needs `onnx` (to build the graph) and `onnxruntime`; without them the stage uses the exact
encoder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moderation.detection.semantic import DATA, LAYERS, Encoder, _Dense, read_examples

RANGES = DATA / "ranges.npz"

if TYPE_CHECKING:
    from moderation.detection.semantic import Array

BLOCK = 32  # inputs per quantization block
BITS = 8
ACCURACY_LEVEL = 4  # int8 products (onnxruntime: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8)
# How much of an input channel's range smoothing moves into the weights (0: none, 1: all).
# Of 0.5, 0.6, 0.7 and 0.8, 0.6-0.7 gave the vectors closest to the exact pass's (dev set;
# docs/moderation.md, "The fast encoder").
ALPHA = 0.7
SMOOTHED = ("qkv", "up")  # the products whose inputs are smoothed (their ranges are stored)


def _symmetric(np: Any, values: Array, axis: int) -> tuple[Any, Any]:
    """`values` as whole steps of one scale per slice along `axis`, symmetric (the largest
    |value| of a slice is 127 steps): the rounded steps (float) and the scales."""
    scales = np.abs(values).max(axis=axis, keepdims=True) / np.float32(127)
    scales[scales == 0] = 1  # an all-zero slice: any scale gives zeros
    return np.rint(values / scales), np.squeeze(scales, axis=axis).astype(np.float32)


def quantize_blocks(np: Any, weight: Array) -> tuple[Any, Any]:
    """`weight` (inputs x outputs) as MatMulNBits stores it: for each output column and block
    of `BLOCK` inputs, one scale and `BLOCK` unsigned bytes with the zero point at 128, so that
    a weight is ``(byte - 128) * scale`` (symmetric: the largest |weight| of a block is 127)."""
    inputs, outputs = weight.shape
    if inputs % BLOCK:
        raise ValueError(f"{inputs} inputs is not a whole number of blocks of {BLOCK}")
    blocks = np.ascontiguousarray(weight.T, dtype=np.float32).reshape(outputs, -1, BLOCK)
    steps, scales = _symmetric(np, blocks, axis=-1)
    return (steps + 128).astype(np.uint8), scales


def quantize_columns(np: Any, weight: Array) -> tuple[Any, Any]:
    """`weight` (inputs x outputs) as int8 with one scale per output column, symmetric (the
    largest |weight| of a column is 127), as DynamicQuantizeMatMul takes it."""
    steps, scales = _symmetric(np, weight, axis=0)
    return steps.astype(np.int8), scales


def smoothing(np: Any, ranges: Array, weight: Array) -> Any:
    """SmoothQuant's per-channel factors for an input whose channels span `ranges`."""
    spread = np.maximum(np.abs(weight).max(axis=1), 1e-5) ** (1 - ALPHA)
    factors = np.maximum(ranges, 1e-5) ** ALPHA / spread
    return factors.astype(np.float32)


def has_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU has the VNNI instructions (AVX-512 or AVX). onnxruntime multiplies uint8
    activations by int8 weights with them, exactly; without them, by VPMADDUBSW, which saturates
    at 16 bits (onnxruntime's quantization guide), so there the weights go in as uint8 (a
    widening kernel, exact). Unknown (not Linux): False."""
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return bool(flags & {"avx512_vnni", "avx_vnni"})
    return False


class _Ranged(_Dense):
    """A `_Dense` that also keeps the largest |input| per channel it was called with."""

    def __init__(self, dense: _Dense, seen: Array) -> None:  # no super(): it wraps `dense`
        self._dense = dense
        self.seen = seen

    def __call__(self, x: Any) -> Array:
        self.seen[...] = self._dense._np.maximum(self.seen, abs(x).max(axis=0))
        return self._dense(x)


def input_ranges(encoder: Encoder, texts: Iterable[str] | None = None) -> dict[str, Array]:
    """The largest |input| per channel of every smoothed product (``layer{d}.{name}``) over
    `texts`, from `encoder`'s exact pass; by default over the curated phrases of examples.toml,
    which gives the ranges that ``ranges.npz`` stores."""
    if texts is None:
        texts = [example.text for example in read_examples()]
    np = encoder._np
    seen: dict[str, Array] = {}
    original = encoder._layers
    ranged = []
    for depth, layer in enumerate(original, 1):
        wrapped: dict[str, Any] = {}
        for name in SMOOTHED:
            dense = getattr(layer, name)
            store = seen[f"layer{depth}.{name}"] = np.zeros(dense.matrix().shape[0], np.float32)
            wrapped[name] = _Ranged(dense, store)
        ranged.append(replace(layer, **wrapped))
    encoder._layers = ranged
    try:
        for text in texts:
            Encoder.encode_layers(encoder, text, (encoder.depth,))
    finally:
        encoder._layers = original
    return seen


class FastEncoder(Encoder):
    """`Encoder` whose `encode_ids` runs the six layers in onnxruntime with 8-bit weights.

    Tokenizing and the embedding lookup are the exact encoder's; only the layers asked for in
    `LAYERS` (or a subset of them) can be pooled."""

    def __init__(
        self,
        model_dir: Path,
        signed: bool | None = None,
        tuned: Path | None = None,
        ranges: Path = RANGES,
    ) -> None:
        import onnxruntime

        super().__init__(model_dir, tuned)
        self._ranges = ranges  # the smoothing ranges of these layers (bench/semantic_ranges.py)
        # int8 weights where the CPU multiplies uint8 by int8 into 32 bits (VNNI), else uint8.
        self._signed = has_vnni() if signed is None else signed
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            self._graph(), options, providers=["CPUExecutionProvider"]
        )
        self._depth = len(self._layers)
        self._layers = []  # the float32 layer weights are in the graph now; free them

    @property
    def depth(self) -> int:
        return self._depth

    def encode_ids(self, ids: list[int], layers: tuple[int, ...] = LAYERS) -> dict[int, Array]:
        np = self._np
        if not set(layers) <= set(LAYERS):
            raise ValueError(f"the fast encoder pools layers {LAYERS}, not {layers}")
        x = self._words[ids]
        x += self._positions[: len(ids)]
        pooled = dict(zip(LAYERS, self._session.run(None, {"x": x}), strict=True))
        return {
            depth: vector / max(float(np.sqrt(vector @ vector)), 1e-12)
            for depth, vector in pooled.items()
            if depth in layers
        }

    def _graph(self) -> bytes:
        """The serialized ONNX model: embedding layer norm, the layers, mean pooling."""
        import numpy as np
        from onnx import TensorProto, helper, numpy_helper

        with np.load(self._ranges) as stored:
            ranges = {name: stored[name] for name in stored.files}

        initializers: list[Any] = []
        nodes: list[Any] = []

        def const(name: str, value: Any) -> str:
            initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
            return name

        def op(kind: str, inputs: list[str], output: str, domain: str = "", **attrs: Any) -> str:
            nodes.append(helper.make_node(kind, inputs, [output], domain=domain, **attrs))
            return output

        def dense(x: str, layer_dense: Any, name: str) -> str:
            weight = layer_dense.matrix()
            inputs, outputs = weight.shape
            if name.endswith(".down"):
                codes, scales = quantize_blocks(np, weight)
                product = op(
                    "MatMulNBits",
                    [x, const(name + ".codes", codes), const(name + ".scales", scales)],
                    name + ".product",
                    domain="com.microsoft",
                    K=inputs,
                    N=outputs,
                    bits=BITS,
                    block_size=BLOCK,
                    accuracy_level=ACCURACY_LEVEL,
                )
            else:
                if name in ranges:
                    factors = smoothing(np, ranges[name], weight)
                    x = op("Mul", [x, const(name + ".smooth", 1 / factors)], name + ".smoothed")
                    weight = weight * factors[:, None]
                codes, scales = quantize_columns(np, weight)
                if self._signed:
                    parts = [x, const(name + ".codes", codes), const(name + ".scales", scales)]
                else:  # the same codes, unsigned around a zero point of 128
                    parts = [
                        x,
                        const(name + ".ucodes", codes.view(np.uint8) ^ 0x80),
                        const(name + ".scales", scales),
                        const(name + ".zero", np.full(scales.shape, 128, np.uint8)),
                    ]
                product = op(
                    "DynamicQuantizeMatMul",
                    parts,
                    name + ".product",
                    domain="com.microsoft",
                )
            return op("Add", [product, const(name + ".bias", layer_dense.bias)], name)

        def norm(x: str, weights: tuple[Array, Array], name: str) -> str:
            gain, bias = const(name + ".gain", weights[0]), const(name + ".bias", weights[1])
            return op("LayerNormalization", [x, gain, bias], name, axis=-1, epsilon=self._eps)

        width = self._words.shape[1]
        heads = self._heads
        const("heads", np.array([-1, heads, width // heads], np.int64))
        const("flat", np.array([-1, width], np.int64))
        const("tokens", np.array([0], np.int64))
        x = norm("x", self._emb_norm, "embeddings")
        pooled: list[str] = []
        for depth, layer in enumerate(self._layers, 1):
            name = f"layer{depth}"
            qkv = dense(x, layer.qkv, name + ".qkv")  # queries already scaled
            parts = [f"{name}.{part}" for part in ("q", "k", "v")]
            nodes.append(helper.make_node("Split", [qkv], parts, axis=1, num_outputs=3))
            q, k, v = (op("Reshape", [part, "heads"], part + ".heads") for part in parts)
            q = op("Transpose", [q], q + ".t", perm=[1, 0, 2])  # (heads, n, size)
            k = op("Transpose", [k], k + ".t", perm=[1, 2, 0])  # (heads, size, n)
            v = op("Transpose", [v], v + ".t", perm=[1, 0, 2])
            scores = op("Softmax", [op("MatMul", [q, k], name + ".scores")], name + ".p", axis=-1)
            context = op(
                "Transpose",
                [op("MatMul", [scores, v], name + ".context")],
                name + ".context.t",
                perm=[1, 0, 2],
            )
            context = op("Reshape", [context, "flat"], name + ".context.flat")
            attended = op("Add", [dense(context, layer.out, name + ".out"), x], name + ".res1")
            x = norm(attended, layer.norm1, name + ".norm1")
            hidden = op("Gelu", [dense(x, layer.up, name + ".up")], name + ".gelu")
            y = op("Add", [dense(hidden, layer.down, name + ".down"), x], name + ".res2")
            x = norm(y, layer.norm2, name + ".norm2")
            if depth in LAYERS:
                pooled.append(op("ReduceMean", [x, "tokens"], f"pooled{depth}", keepdims=0))
        graph = helper.make_graph(
            nodes,
            "all-MiniLM-L6-v2, 8-bit products",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", width])],
            [helper.make_tensor_value_info(name, TensorProto.FLOAT, [width]) for name in pooled],
            initializers,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", 20), helper.make_opsetid("com.microsoft", 1)],
            ir_version=10,
        )
        serialized: bytes = model.SerializeToString()
        return serialized
