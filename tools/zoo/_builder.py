"""A small helper for writing CNNs node by node with onnx.helper, with realistic random weights.

Convolutions get He-normal weights, N(0, sqrt(2 / fan_in)), and a batch norm with realistic
statistics folded into them (scale 1 + N(0, 0.1), bias and mean N(0, 0.1), variance U(0.7, 1.3)),
which is what an exporter writes for an inference model. A conv whose output closes a residual
branch gets a smaller BN scale (about 0.3) so that adding many branches keeps activations in a
sensible range, as trained networks do.

Every model has one float input with a symbolic batch dimension `N` and opset 13.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


class NetBuilder:
    """Collects nodes and initializers; `conv` and friends return the name of their output."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._count: dict[str, int] = {}

    def name(self, prefix: str) -> str:
        """A fresh name `prefix_<k>`."""
        k = self._count.get(prefix, 0)
        self._count[prefix] = k + 1
        return f"{prefix}_{k}"

    def const(self, prefix: str, array: np.ndarray) -> str:
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], prefix: str | None = None, **attrs) -> str:
        out = self.name(prefix or op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1,
             act: str | None = "relu6", bn_scale: float = 1.0, bias_only: bool = False, prefix: str = "conv") -> str:
        """Conv (+ folded BN) (+ activation). `bias_only`: a head conv with a plain bias, no BN."""
        fan_in = (cin // groups) * kernel * kernel
        w = self.rng.normal(0.0, np.sqrt(2.0 / fan_in), (cout, cin // groups, kernel, kernel))
        if bias_only:
            b = self.rng.normal(0.0, 0.02, cout)
        else:
            gamma = bn_scale * (1.0 + self.rng.normal(0.0, 0.1, cout))
            beta = self.rng.normal(0.0, 0.1, cout)
            mean = self.rng.normal(0.0, 0.1, cout)
            var = self.rng.uniform(0.7, 1.3, cout)
            k = gamma / np.sqrt(var + 1e-5)
            w = w * k[:, None, None, None]
            b = beta - mean * k
        pad = kernel // 2
        y = self.node("Conv", [x, self.const(f"{prefix}_w", w.astype(np.float32)),
                               self.const(f"{prefix}_b", b.astype(np.float32))], prefix=prefix,
                      kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[pad] * 4, group=groups)
        return self.activation(y, act)

    def activation(self, x: str, act: str | None) -> str:
        if act is None:
            return x
        if act == "relu":
            return self.node("Relu", [x])
        if act == "relu6":
            lo = self.const("zero", np.array(0.0, np.float32))
            hi = self.const("six", np.array(6.0, np.float32))
            return self.node("Clip", [x, lo, hi], prefix="relu6")
        raise ValueError(f"unknown activation {act!r}")

    def gemm(self, x: str, cin: int, cout: int, prefix: str = "fc") -> str:
        w = self.rng.normal(0.0, np.sqrt(2.0 / cin), (cout, cin)).astype(np.float32)
        b = self.rng.normal(0.0, 0.02, cout).astype(np.float32)
        return self.node("Gemm", [x, self.const(f"{prefix}_w", w), self.const(f"{prefix}_b", b)],
                         prefix=prefix, transB=1)

    def model(self, graph_name: str, input_name: str, input_shape: list[int],
              outputs: list[tuple[str, list]]) -> onnx.ModelProto:
        """The finished model: input [N, *input_shape], outputs (name, shape with 'N' allowed)."""
        inp = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", *input_shape])
        outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n, shape in outputs]
        graph = helper.make_graph(self.nodes, graph_name, [inp], outs, initializer=self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="irc.zoo")
        model.ir_version = 8
        return model

    def rename_output(self, current: str, wanted: str) -> str:
        """Make the node producing `current` write `wanted` instead (for graph output names)."""
        for n in self.nodes:
            for i, o in enumerate(n.output):
                if o == current:
                    n.output[i] = wanted
            for i, o in enumerate(n.input):
                if o == current:
                    n.input[i] = wanted
        return wanted
