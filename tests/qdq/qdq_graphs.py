"""Hand-built quantized IR graphs for the onnx-qdq backend tests.

QBuilder builds a quantized graph op by op with the Graph API and keeps, next to every value, a
float sample of the real values it holds for a fixed batch of inputs (computed with the
interpreter's fp32 kernels on dequantized operands). A new quantized result takes its
parameters from the range of its sample, as calibration would, so the test graphs use their
int8 ranges well instead of saturating everywhere. Types follow specs/quantization.md §1:
u8 asymmetric activations, i8 symmetric per-channel weights, i32 biases at s_x * s_w.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import irc.backends.numpy_interp.kernels  # noqa: F401  (registers the kernels)
from irc.backends.numpy_interp.interpreter import KERNELS
from irc.backends.numpy_interp.kernels.quant import dequantize_array, quantize_array
from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.types import QuantType, tensor
from irc.ir.value import Value
from irc.passes.quantize import Quantize

WQ = Quantize().weight_qmax
"""Weight magnitude as the quantize pass stores it on this host (7 bits on x86 without VNNI)."""


def u8_params(lo: float, hi: float) -> QuantType:
    """Asymmetric u8 parameters of a range (widened to contain 0)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi == lo:
        return QuantType.per_tensor("u8", 1.0, 0)
    s = np.float32((np.float32(hi) - np.float32(lo)) / np.float32(255))
    z = int(np.clip(np.rint(np.float32(-lo) / s), 0, 255))
    return QuantType.per_tensor("u8", s, z)


def i8_params(lo: float, hi: float) -> QuantType:
    m = max(abs(float(lo)), abs(float(hi)))
    return QuantType.per_tensor("i8", np.float32(m) / np.float32(127) if m else 1.0, 0)


class QBuilder:
    def __init__(self, seed: int = 0, batch: int = 2, activations: str = "u8", symbolic_batch: bool = False) -> None:
        self.g = Graph()
        self.symbolic_batch = symbolic_batch
        self.rng = np.random.default_rng(seed)
        self.batch = batch
        self.activations = activations
        self.samples: dict[int, np.ndarray] = {}
        self.feeds: dict[str, np.ndarray] = {}

    # -- values -------------------------------------------------------------------------------
    def sample(self, v: Value) -> np.ndarray:
        return self.samples[id(v)]

    def input(self, shape: Sequence[int], name: str, lo: float = -1.0, hi: float = 1.0) -> Value:
        shape = (self.batch, *shape)
        v = self.g.add_input(tensor(("N", *shape[1:]) if self.symbolic_batch else shape), name)
        self.feeds[name] = self.rng.uniform(lo, hi, shape).astype(np.float32)
        self.samples[id(v)] = self.feeds[name]
        return v

    def const(self, array: np.ndarray, name: str, qt: QuantType | None = None) -> Value:
        """A constant; with `qt`, `array` holds the stored integers of a quantized constant."""
        if qt is None:
            v = self.g.const(array, name)
        else:
            # by reference: an inline constant's type is inferred from its array, without
            # scale and zero point, so the verifier rejects a small inline quantized one
            v = self.g.const(array, name, type=tensor(array.shape, qt), inline=False)
        self.samples[id(v)] = dequantize_array(array, qt) if qt is not None else array
        return v

    def params_for(self, real: np.ndarray) -> QuantType:
        lo, hi = float(real.min()), float(real.max())
        return u8_params(lo, hi) if self.activations == "u8" else i8_params(lo, hi)

    def _settle(self, op: Op, real: np.ndarray, qt: QuantType | None) -> Value:
        """Give op's result the quantized type `qt` (None: keep float); record its sample."""
        r = op.result
        if qt is not None:
            r.type = r.type.with_element(qt)
            real = dequantize_array(quantize_array(real, qt), qt)
        self.samples[id(r)] = real
        return r

    def _run(self, op: Op) -> np.ndarray:
        """The op's fp32 kernel on the real values of its operands."""
        return KERNELS[op.name](op, *[self.sample(v) for v in op.operands])

    # -- casts --------------------------------------------------------------------------------
    def quantize(self, x: Value, name: str, qt: QuantType | None = None) -> Value:
        qt = qt or self.params_for(self.sample(x))
        op = self.g.create("quantize", [x], types=[x.type.with_element(qt)], names=[name])
        self.samples[id(op.result)] = dequantize_array(quantize_array(self.sample(x), qt), qt)
        return op.result

    def dequantize(self, q: Value, name: str) -> Value:
        op = self.g.create("dequantize", [q], names=[name])
        self.samples[id(op.result)] = self.sample(q)
        return op.result

    # -- ops ----------------------------------------------------------------------------------
    def op(self, kind: str, operands: Sequence[Value], name: str, attrs: dict[str, Any] | None = None,
           result: str = "same", qt: QuantType | None = None) -> Value:
        """An op on quantized operands. result: 'same' (the first operand's type: data
        movement), 'requant' (parameters from the result's range, or `qt`), 'float'."""
        if kind == "concat" and result == "requant":
            # concat's type rule insists on shared parameters, though specs/quantization.md §3
            # lets a concat requantize: the op is built without it (tests exempt it from verify)
            op = self.g.append(Op(kind, list(operands), [operands[0].type.with_element("f32")], attrs, [name]))
            shape = list(operands[0].type.shape)
            shape[attrs["axis"]] = sum(v.type.shape[attrs["axis"]] for v in operands)
            op.result.type = op.result.type.with_shape(shape)
        else:
            op = self.g.create(kind, list(operands), attrs or {}, names=[name])
        real = self._run(op)
        if result == "same":
            qt = operands[0].type.quant
        elif result == "requant":
            qt = qt or self.params_for(real)
        else:
            qt = None
        return self._settle(op, real, qt)

    def weights(self, w: np.ndarray, name: str, axis: int) -> Value:
        """i8 symmetric per-channel weights along `axis` (specs/quantization.md §1)."""
        red = tuple(i for i in range(w.ndim) if i != axis)
        m = np.abs(w).max(axis=red).astype(np.float32)
        s = np.where(m > 0, m / np.float32(WQ), np.float32(1)).astype(np.float32)
        qt = QuantType.per_axis("i8", s, np.zeros(len(s), np.int64), axis)
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.rint(w / s.reshape(shape)), -WQ, WQ).astype(np.int8)
        return self.const(q, name, qt)

    def bias(self, b: np.ndarray, x: Value, w: Value, name: str) -> Value:
        """i32 bias at scale f32(s_x) * f32(s_w[c]), zero point 0."""
        s = (np.float32(x.type.quant.scale) * w.type.quant.scale_array()).astype(np.float32)
        qt = QuantType.per_axis("i32", s, np.zeros(len(s), np.int64), 0)
        return self.const(np.rint(b / s).astype(np.int32), name, qt)

    def compute(self, kind: str, operands: list[Value], name: str, attrs: dict[str, Any],
                activation: tuple[str, float, float] | None = None, qt: QuantType | None = None,
                result: str = "requant") -> Value:
        """conv / gemm / matmul with an optional fused activation (kind, lo, hi); the result's
        range starts at lo (relu: z = 0) and ends at a finite hi, as the quantize pass picks it."""
        op = self.g.create(kind, operands, attrs, names=[name])
        real = self._run(op)
        if activation is not None:
            act, lo, hi = activation
            # set after the fp32 kernel ran, which then saw the op without it
            op.attrs["activation"] = act
            if act == "clip":
                op.attrs["activation_min"], op.attrs["activation_max"] = float(lo), float(hi)
            real = np.clip(real, lo, hi).astype(np.float32)
            if qt is None and result == "requant":
                top = hi if np.isfinite(hi) else float(real.max())
                qt = u8_params(lo, top) if self.activations == "u8" else i8_params(lo, top)
        if result == "float":
            return self._settle(op, real, None)
        return self._settle(op, real, qt or self.params_for(real))

    def conv(self, x: Value, cout: int, k: int, name: str, group: int = 1, stride: int = 1, pad: int = 0,
             bias: bool = True, activation=None, qt: QuantType | None = None) -> Value:
        cin = x.type.shape[1] // group
        w = self.rng.normal(0, 1 / np.sqrt(cin * k * k), (cout, cin, k, k)).astype(np.float32)
        wq = self.weights(w, f"{name}.weight", 0)
        operands = [x, wq]
        if bias:
            b = self.rng.normal(0, 0.1, cout).astype(np.float32)
            operands.append(self.bias(b, x, wq, f"{name}.bias"))
        attrs: dict[str, Any] = {}
        if group != 1:
            attrs["group"] = group
        if stride != 1:
            attrs["strides"] = [stride, stride]
        if pad:
            attrs["pads"] = [pad] * 4
        return self.compute("conv", operands, name, attrs, activation, qt)

    def gemm(self, x: Value, n: int, name: str, trans_b: int = 1, activation=None, result: str = "requant") -> Value:
        k = x.type.shape[1]
        w = self.rng.normal(0, 1 / np.sqrt(k), (n, k) if trans_b else (k, n)).astype(np.float32)
        wq = self.weights(w, f"{name}.weight", 0 if trans_b else 1)
        b = self.rng.normal(0, 0.1, n).astype(np.float32)
        operands = [x, wq, self.bias(b, x, wq, f"{name}.bias")]
        return self.compute("gemm", operands, name, {"trans_b": trans_b} if trans_b else {}, activation,
                            result=result)

    def matmul(self, x: Value, n: int, name: str, result: str = "requant") -> Value:
        k = x.type.shape[-1]
        w = self.rng.normal(0, 1 / np.sqrt(k), (k, n)).astype(np.float32)
        m = float(np.abs(w).max())
        qt = QuantType.per_tensor("i8", np.float32(m) / np.float32(WQ) if m else 1.0, 0)
        q = np.clip(np.rint(w / np.float32(qt.scale)), -WQ, WQ).astype(np.int8)
        return self.compute("matmul", [x, self.const(q, f"{name}.weight", qt)], name, {}, result=result)

    def shape_const(self, dims: Sequence[int], name: str) -> Value:
        return self.const(np.asarray(dims, np.int64), name)

    def finish(self, outputs: Sequence[Value]) -> Graph:
        self.g.set_outputs(list(outputs))
        return self.g
