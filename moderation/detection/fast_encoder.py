"""all-MiniLM-L6-v2 as one onnxruntime graph with 8-bit weights: the second stage's fast encoder.

`semantic.Encoder` runs the model's forward pass in numpy, exactly (float32, to 1e-4 of
sentence-transformers). At a message's length most of that pass is spent reading 42 MB of
float32 weights and multiplying by them, which puts its p99 over the 5 ms budget. This
encoder builds the same network as an ONNX graph from the same weights when the stage loads
(nothing is stored or downloaded; about a second), with the weights of every product in 8 bits
per block of 32 inputs (onnxruntime's ``MatMulNBits``, accuracy level 4: the products are done
in int8, the activations quantized per block of 32 as well), and runs it on one thread.

Its pooled vectors are within cosine 0.998 of the exact ones (0.9989 at worst and about
0.9996 on average over the development set; test_fast_encoder.py checks it). The trained head
is the one trained on exact features, used unchanged: on 2,880 labelled messages it never saw,
it gives the same figures with either encoder to within two messages (docs/moderation.md, "The
fast encoder"). Needs `onnx` (to build the graph) and `onnxruntime`; without them the stage
uses the exact encoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from moderation.detection.semantic import LAYERS, Encoder

if TYPE_CHECKING:
    from moderation.detection.semantic import Array

BLOCK = 32  # inputs per quantization block
BITS = 8
ACCURACY_LEVEL = 4  # int8 products (onnxruntime: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8)


def quantize_blocks(np: Any, weight: Array) -> tuple[Any, Any]:
    """`weight` (inputs x outputs) as MatMulNBits stores it: for each output column and block
    of `BLOCK` inputs, one scale and `BLOCK` unsigned bytes with the zero point at 128, so that
    a weight is ``(byte - 128) * scale`` (symmetric: the largest |weight| of a block is 127)."""
    inputs, outputs = weight.shape
    if inputs % BLOCK:
        raise ValueError(f"{inputs} inputs is not a whole number of blocks of {BLOCK}")
    blocks = np.ascontiguousarray(weight.T, dtype=np.float32).reshape(outputs, -1, BLOCK)
    scales = np.abs(blocks).max(axis=-1) / np.float32(127)
    scales[scales == 0] = 1  # an all-zero block: any scale gives zeros
    codes = np.rint(blocks / scales[..., None]) + 128
    return codes.astype(np.uint8), scales.astype(np.float32)


class FastEncoder(Encoder):
    """`Encoder` whose `encode_ids` runs the six layers in onnxruntime with 8-bit weights.

    Tokenizing and the embedding lookup are the exact encoder's; only the layers asked for in
    `LAYERS` (or a subset of them) can be pooled."""

    def __init__(self, model_dir: Path) -> None:
        import onnxruntime

        super().__init__(model_dir)
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
            "all-MiniLM-L6-v2, 8-bit weights",
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
