"""Hand-built QDQ ONNX models of one quantized op, run in onnxruntime with its int8 fusions on.

    spec = [act("x", x, 0.02, 128), const("w", w_q, w_scales, axis=0), const("b", b_q, b_scales, axis=0)]
    model = qdq_model("Conv", spec, out=(0.05, 100), attrs={"pads": [1, 1, 1, 1]})
    got = run_qdq(model, {"x": x}, tmp_path)

Each activation operand is a float graph input followed by QuantizeLinear -> DequantizeLinear;
each constant operand an integer initializer followed by DequantizeLinear (per-axis when it has
an axis); the op's float result goes through QuantizeLinear -> DequantizeLinear. The model also
returns the quantized activations (`<name>_q`) and the quantized result (`y_q`), so a test can
feed the interpreter exactly the integers onnxruntime used and compare integers with integers.
`run_qdq` writes onnxruntime's optimized graph and reports which ops it kept, so a test can
assert that the float op really became QLinearConv / QGemm / QLinearMatMul / QLinearAdd / ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 21


@dataclass
class Operand:
    name: str
    array: np.ndarray          # float data (activation) or stored integers (constant)
    scales: np.ndarray
    zero_points: np.ndarray
    axis: int | None = None
    constant: bool = False


def act(name: str, x: np.ndarray, scale: float, zero_point: int, dtype=np.uint8) -> Operand:
    """A float input quantized per tensor to `dtype` inside the model."""
    return Operand(name, np.asarray(x, np.float32), np.float32(scale), np.asarray(zero_point, dtype))


def const(name: str, q: np.ndarray, scales, axis: int | None = None) -> Operand:
    """An integer initializer (int8 weights or int32 bias) with zero point 0."""
    scales = np.asarray(scales, np.float32)
    if axis is None:
        scales = scales.reshape(())
    return Operand(name, np.asarray(q), scales, np.zeros(scales.shape, q.dtype), axis, constant=True)


def qdq_model(op_type: str, operands: Sequence[Operand], out: tuple[float, int], attrs: dict[str, Any] | None = None,
              out_dtype=np.uint8, domain: str = "") -> onnx.ModelProto:
    nodes, inputs, inits, outputs = [], [], [], []
    op_inputs = []
    for o in operands:
        s_name, z_name = f"{o.name}_scale", f"{o.name}_zp"
        inits += [numpy_helper.from_array(np.asarray(o.scales, np.float32), s_name),
                  numpy_helper.from_array(o.zero_points, z_name)]
        axis = {} if o.axis is None else {"axis": o.axis}
        if o.constant:
            inits.append(numpy_helper.from_array(o.array, f"{o.name}_q"))
        else:
            inputs.append(helper.make_tensor_value_info(o.name, TensorProto.FLOAT, list(o.array.shape)))
            nodes.append(helper.make_node("QuantizeLinear", [o.name, s_name, z_name], [f"{o.name}_q"]))
            outputs.append(helper.make_tensor_value_info(
                f"{o.name}_q", helper.np_dtype_to_tensor_dtype(o.zero_points.dtype), list(o.array.shape)))
        nodes.append(helper.make_node("DequantizeLinear", [f"{o.name}_q", s_name, z_name], [f"{o.name}_dq"], **axis))
        op_inputs.append(f"{o.name}_dq")
    inits += [numpy_helper.from_array(np.asarray(out[0], np.float32), "y_scale"),
              numpy_helper.from_array(np.asarray(out[1], out_dtype), "y_zp")]
    nodes += [helper.make_node(op_type, op_inputs, ["y_f"], domain=domain or None, **(attrs or {})),
              helper.make_node("QuantizeLinear", ["y_f", "y_scale", "y_zp"], ["y_q"]),
              helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zp"], ["y"])]
    outputs = [onnx.ValueInfoProto(name="y"), onnx.ValueInfoProto(name="y_q")] + outputs
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(helper.make_graph(nodes, op_type.lower(), inputs, outputs, inits), opset_imports=opsets)
    model.ir_version = 10
    # the result types come from onnx's shape inference
    typed = {v.name: v for v in onnx.shape_inference.infer_shapes(model).graph.output}
    for o in model.graph.output:
        if typed[o.name].type.HasField("tensor_type"):
            o.type.CopyFrom(typed[o.name].type)
    onnx.checker.check_model(model)
    return model


@dataclass
class OrtResult:
    outputs: dict[str, np.ndarray]
    op_types: list[str]   # the ops of onnxruntime's optimized graph


def run_qdq(model: onnx.ModelProto, feeds: dict[str, np.ndarray], tmp_path: Path,
            level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL) -> OrtResult:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = level
    optimized = Path(tmp_path) / "optimized.onnx"
    so.optimized_model_filepath = str(optimized)
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    values = sess.run(None, feeds)
    op_types = [n.op_type for n in onnx.load(str(optimized)).graph.node]
    return OrtResult(dict(zip(names, values)), op_types)


def attr_text(attrs: dict[str, Any]) -> str:
    """IR attribute dict text: {pads=[1, 1, 1, 1], group=2, activation="relu"} ('' when empty)."""
    def one(v):
        if isinstance(v, str):
            return f'"{v}"'
        return "[" + ", ".join(str(int(i)) for i in v) + "]" if isinstance(v, (list, tuple)) else str(v)
    return "{" + ", ".join(f"{k}={one(v)}" for k, v in attrs.items()) + "}" if attrs else ""


def one_op_ir(op: str, inputs: Sequence[tuple[str, Any]], consts: Sequence[tuple[str, Any]], result,
              attrs: dict[str, Any] | None = None, operands: Sequence[str] | None = None) -> str:
    """IR text of a graph with one op: graph inputs and `const @name` operands, typed."""
    args = ", ".join(f"%{n}: {t}" for n, t in inputs)
    lines = [f"  %{n} = const @{n} : {t}" for n, t in consts]
    names = operands if operands is not None else [n for n, _ in inputs] + [n for n, _ in consts]
    at = attr_text(attrs or {})
    lines.append(f"  %y = {op}({', '.join('%' + n for n in names)}){' ' + at if at else ''} : {result}")
    return f"func @main({args}) -> ({result}) {{\n" + "\n".join(lines) + "\n  return %y\n}\n"


def agreement(got: np.ndarray, ref: np.ndarray) -> tuple[float, int]:
    """(fraction of equal elements, largest difference in quanta) of two integer arrays."""
    assert got.shape == ref.shape and got.dtype == ref.dtype, (got.shape, got.dtype, ref.shape, ref.dtype)
    diff = np.abs(got.astype(np.int64) - ref.astype(np.int64))
    return float((diff == 0).mean()), int(diff.max(initial=0))


def int8_matmul_weights(rng, k: int, n: int, per_column: bool):
    """A random K x N weight quantized i8 symmetric (per column or per tensor), as irc's quantize
    makes it: (the int8 array, its QuantType)."""
    from irc.ir.types import QuantType

    w = rng.standard_normal((k, n)).astype(np.float32) / np.sqrt(k)
    from irc.passes.quantize import Quantize

    qmax = Quantize().weight_qmax  # as the quantize pass stores them on this host
    if per_column:
        scales = (np.abs(w).max(axis=0) / qmax).astype(np.float32)
        qt = QuantType.per_axis("i8", scales, [0] * n, 1)
    else:
        scales = np.float32(np.abs(w).max() / qmax)
        qt = QuantType.per_tensor("i8", scales, 0)
    return np.clip(np.rint(w / scales), -qmax, qmax).astype(np.int8), qt
