"""Generic ops (ir/generic.py) to ONNX and back to running code.

Export writes a generic op verbatim: its op type and domain, its ONNX inputs (an empty name at
each position listed in `onnx.absent`), its attributes in their ONNX kinds (nested graphs as
GraphProtos whose captured inputs become references to the enclosing graph's tensors), and the
domain's opset (`onnx.version`) in the model's opset imports.

`OneNodeRunner` runs one generic op on arrays: the op is written as a one-node model whose
inputs are its operands (captured values included, so a body's references resolve) and run by
onnxruntime, the runtime the emitted models are for; onnx's reference implementation runs what
onnxruntime has no kernel for. (onnxruntime comes first for a measured reason as well as speed:
onnx 1.23's reference Loop ignores the iterations of a loop without a condition input.)
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from irc.ir.diagnostics import IRError
from irc.ir.generic import ABSENT_KEY, ABSENT_OUTPUTS_KEY, VERSION_KEY, captures, split_generic_name
from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.types import MapType, OptionalType, SequenceType, TensorType
from irc.ir.attrs import is_discardable

from .registry import CANONICAL_OPSET


def onnx_inputs(op: Op) -> tuple[list, list]:
    """(the op's ONNX inputs, None at absent positions; the captured operands)."""
    n = captures(op)
    own = op.operands[:len(op.operands) - n]
    absent = set(op.attrs.get(ABSENT_KEY, ()))
    values = iter(own)
    inputs = [None if i in absent else next(values) for i in range(len(own) + len(absent))]
    return inputs, op.operands[len(own):]


def _schema_kind(op: Op, key: str) -> int | None:
    """The attribute type onnx's schema gives `key` (to write an empty list), if known."""
    domain, op_type = split_generic_name(op.name)
    try:
        schema = onnx.defs.get_schema(op_type, op.attrs.get(VERSION_KEY, CANONICAL_OPSET), domain)
    except Exception:
        return None
    attr = schema.attributes.get(key)
    # onnx's stub of the pybind11 enum leaves out its int conversion
    return None if attr is None else int(attr.type)  # type: ignore[call-overload]


def onnx_attribute(ctx, op: Op, key: str, value: Any, outer: Sequence[str]) -> onnx.AttributeProto:
    """One attribute of a generic op in its ONNX kind."""
    if isinstance(value, Graph):
        return helper.make_attribute(key, ctx.subgraph(value, outer))
    if isinstance(value, tuple) and value and all(isinstance(g, Graph) for g in value):
        return helper.make_attribute(key, [ctx.subgraph(g, outer) for g in value])
    if isinstance(value, np.ndarray):
        return helper.make_attribute(key, numpy_helper.from_array(value))
    if isinstance(value, (TensorType, SequenceType, OptionalType, MapType)):
        from .inferred_types import type_to_proto

        return helper.make_attribute(key, type_to_proto(value))
    if isinstance(value, tuple) and not value:
        kind = _schema_kind(op, key)
        return helper.make_attribute(key, [], attr_type=kind if kind is not None else onnx.AttributeProto.INTS)
    return helper.make_attribute(key, list(value) if isinstance(value, tuple) else value)


def export_generic(ctx, op: Op) -> None:
    """Write a generic op as the ONNX node it came from."""
    domain, op_type = split_generic_name(op.name)
    inputs, captured = onnx_inputs(op)
    outer = [ctx.name(v) for v in captured]
    absent = set(op.attrs.get(ABSENT_OUTPUTS_KEY, ()))
    results = iter(op.results)
    outputs = ["" if i in absent else ctx.name(next(results)) for i in range(len(op.results) + len(absent))]
    node = ctx.node(op_type, [ctx.name(v) if v is not None else "" for v in inputs], outputs, domain=domain)
    for key in sorted(op.attrs):
        if not is_discardable(key):
            node.attribute.append(onnx_attribute(ctx, op, key, op.attrs[key], outer))
    if domain:
        ctx.use_opset(domain, int(op.attrs.get(VERSION_KEY, 1)))
    elif VERSION_KEY in op.attrs:  # an op of a default-domain opset newer than CANONICAL_OPSET
        ctx.use_opset("", int(op.attrs[VERSION_KEY]))


# -- running one op -------------------------------------------------------------------------------

def one_node_model(op: Op) -> tuple[onnx.ModelProto, list[str]]:
    """The op as a one-node ONNX model, and the model's input names in operand order."""
    from .exporter import ExportContext, assemble_model, value_info

    graph = op.graph if op.graph is not None else Graph()
    ctx = ExportContext(graph)
    names = [ctx.name(v) for v in op.operands]
    export_generic(ctx, op)
    inputs, seen = [], set()
    for v, name in zip(op.operands, names):
        if name not in seen:
            seen.add(name)
            inputs.append(value_info(name, v.type))
    outputs = [value_info(ctx.name(r), r.type) for r in op.results]
    return assemble_model(ctx, inputs, outputs, "irc"), names


class OneNodeRunner:
    """Runs one generic op; the model and its session are built on first use."""

    def __init__(self, op: Op) -> None:
        self.op = op
        self._run: Callable[[dict[str, np.ndarray]], list[np.ndarray]] | None = None
        self.engine = ""

    def __call__(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        if self._run is None:
            self.build()
        run = self._run
        if run is None:  # build() sets it or raises
            raise IRError(f"{self.op.name} {self.op.label}: nothing can run it")
        feeds: dict[str, np.ndarray] = {}
        for name, a in zip(self._names, arrays):
            feeds.setdefault(name, a)
        try:
            outs = run(feeds)
        except Exception as e:
            if self.engine != "onnxruntime":
                raise
            # onnxruntime's kernel refuses this input (e.g. ReduceMax of an empty bool tensor):
            # onnx's reference implementation follows the specification there
            try:
                self._run = run = self._reference(self._model)
            except IRError:
                raise e from None
            outs = run(feeds)
        return [_as_declared(self.op, i, a) for i, a in enumerate(outs)]

    def build(self) -> None:
        """Write the one-node model and open a session on it (raises IRError when nothing can)."""
        self._model, self._names = one_node_model(self.op)
        try:
            self._run = self._ort(self._model)
        except IRError as ort_error:
            try:
                self._run = self._reference(self._model)
            except IRError as e:
                raise IRError(f"{ort_error}, and {e}") from None

    def _reference(self, model: onnx.ModelProto):
        try:
            from onnx.reference import ReferenceEvaluator

            ref = ReferenceEvaluator(model)
        except Exception as e:
            raise IRError(f"onnx's reference implementation cannot run it ({type(e).__name__}: "
                          f"{' '.join(str(e).split())[:200]})") from None
        self.engine = "onnx-reference"
        return lambda feeds: ref.run(None, feeds)

    def _ort(self, model: onnx.ModelProto):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = 1
        try:
            sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            reason = " ".join(str(e).split())[:300]
            raise IRError(f"{self.op.name} {self.op.label}: onnxruntime cannot run it ({reason})") from None
        self.engine = "onnxruntime"
        return lambda feeds: sess.run(None, feeds)


def _as_declared(op: Op, i: int, a: np.ndarray) -> np.ndarray:
    """An output in the dtype of its declared type (the reference returns Python scalars and
    numpy's default dtypes in places)."""
    t = op.results[i].type
    if not isinstance(t, TensorType):
        return a  # a sequence (list), optional (None or a value) or map (dict) as onnxruntime gives it
    a = np.asarray(a)
    if a.dtype != t.dtype:
        if a.dtype.kind != t.dtype.kind and not (a.dtype.kind in "iub" and t.dtype.kind in "iub"):
            raise IRError(f"{op.name} {op.label}: result {i} came back as {a.dtype}, but it is typed {t}")
        a = a.astype(t.dtype)
    if t.shape is not None and (a.ndim != len(t.shape) or any(
            isinstance(d, int) and d != s for d, s in zip(t.shape, a.shape))):
        raise IRError(f"{op.name} {op.label}: result {i} has shape {list(a.shape)}, but it is typed {t}")
    return a
