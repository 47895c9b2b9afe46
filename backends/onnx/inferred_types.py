"""What ONNX's and onnxruntime's shape inference know about a model's tensors, as IR types.

Generic ops have no type rule of their own in irc, so their result types come from here: first
onnx's shape inference (with data propagation, so shape code computed from Shape ops gives
dims), then, for the tensors it leaves untyped (ops of other domains, such as com.microsoft),
the types onnxruntime's own graph resolution gives the top-level graph's tensors.

Dimensions: a `dim_value` is a size and a `dim_param` a symbolic dim; a dim with neither, or a
negative size (some converters write -1 for "dynamic"), is unknown, and so is a name onnx's
inference made up for a dim it could not tell (`unk__0`, ...). A tensor type without a shape is
unranked.
"""

from __future__ import annotations

from typing import Iterator

import onnx

from irc.ir.diagnostics import IRError
from irc.ir.types import MapType, OptionalType, SequenceType, TensorType, ValueType, as_tensor_type

ONNX_TO_ELEMENT: dict[int, str] = {  # TensorProto.DataType -> IR element
    onnx.TensorProto.FLOAT: "f32", onnx.TensorProto.DOUBLE: "f64", onnx.TensorProto.FLOAT16: "f16",
    onnx.TensorProto.INT8: "i8", onnx.TensorProto.UINT8: "u8", onnx.TensorProto.INT16: "i16",
    onnx.TensorProto.UINT16: "u16", onnx.TensorProto.INT32: "i32", onnx.TensorProto.UINT32: "u32",
    onnx.TensorProto.INT64: "i64", onnx.TensorProto.UINT64: "u64", onnx.TensorProto.BOOL: "bool",
}
ELEMENT_TO_ONNX = {v: k for k, v in ONNX_TO_ELEMENT.items()}

_ORT_ELEMENTS = {f"tensor({n})": e for n, e in (
    ("float", "f32"), ("double", "f64"), ("float16", "f16"), ("int8", "i8"), ("uint8", "u8"),
    ("int16", "i16"), ("uint16", "u16"), ("int32", "i32"), ("uint32", "u32"), ("int64", "i64"),
    ("uint64", "u64"), ("bool", "bool"))}


def element_of(elem_type: int, what: str) -> str:
    element = ONNX_TO_ELEMENT.get(elem_type)
    if element is None:
        name = onnx.TensorProto.DataType.Name(elem_type) if elem_type in onnx.TensorProto.DataType.values() \
            else str(elem_type)
        raise IRError(f"{what} has element type {name}, which irc's IR has no element type for")
    return element


def type_from_proto(tp: onnx.TypeProto, what: str, zero_is_unknown: bool = False,
                    inferred: bool = False) -> ValueType:
    """The IR type of an ONNX tensor type. `zero_is_unknown`: a dim of size 0 means "unknown"
    (how some converters write the dims of graph inputs). `inferred`: the type comes from onnx's
    shape inference, whose made-up names for dims it cannot tell (`unk__0`, ...) mean "unknown"."""
    kind = tp.WhichOneof("value")
    if kind == "sequence_type":
        return SequenceType(type_from_proto(tp.sequence_type.elem_type, what, zero_is_unknown, inferred))
    if kind == "optional_type":
        return OptionalType(type_from_proto(tp.optional_type.elem_type, what, zero_is_unknown, inferred))
    if kind == "map_type":
        return MapType(element_of(tp.map_type.key_type, f"{what} (its map keys)"),
                       type_from_proto(tp.map_type.value_type, what, zero_is_unknown, inferred))
    if kind != "tensor_type":
        raise IRError(f"{what} is of {(kind or 'no').replace('_type', '')} type, which irc's IR cannot hold")
    tt = tp.tensor_type
    element = element_of(tt.elem_type, what)
    if not tt.HasField("shape"):
        return TensorType(None, element)
    dims: list = []
    for d in tt.shape.dim:
        if d.HasField("dim_value") and d.dim_value >= 0 and not (zero_is_unknown and d.dim_value == 0):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param and not (inferred and d.dim_param.startswith("unk__")):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return TensorType(tuple(dims), element)


def _value_infos(graph: onnx.GraphProto) -> Iterator[onnx.ValueInfoProto]:
    yield from graph.input
    yield from graph.output
    yield from graph.value_info
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _value_infos(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from _value_infos(g)


class InferredTypes:
    """Types of a model's tensors by name (nested graphs included), computed on first use."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self._onnx: dict[str, onnx.TypeProto] | None = None
        self._ort: dict[str, tuple[str, list]] | None = None
        self._ort_error = ""
        self.runnable: dict[tuple, str | None] = {}
        """Generic op kinds checked to run (kind, version) -> None, or why they cannot."""

    def _onnx_types(self) -> dict[str, onnx.TypeProto]:
        if self._onnx is None:
            try:
                inferred = onnx.shape_inference.infer_shapes(self.model, strict_mode=False, data_prop=True)
            except Exception:
                inferred = self.model
            self._onnx = {}
            for vi in _value_infos(inferred.graph):
                if vi.type.HasField("tensor_type") and not vi.type.tensor_type.elem_type:
                    continue  # nothing known
                if vi.type.WhichOneof("value") is not None:
                    self._onnx.setdefault(vi.name, vi.type)
        return self._onnx

    def items(self) -> Iterator[tuple[str, TensorType]]:
        """The tensors onnx's inference types, as IR types (those irc can express)."""
        for name, tp in self._onnx_types().items():
            try:
                yield name, as_tensor_type(type_from_proto(tp, name, inferred=True))
            except (IRError, ValueError):
                continue

    def lookup(self, name: str) -> TensorType | None:
        """onnx's type of tensor `name` as an IR type, or None (never asks onnxruntime)."""
        tp = self._onnx_types().get(name)
        if tp is None:
            return None
        try:
            return as_tensor_type(type_from_proto(tp, name, inferred=True))
        except (IRError, ValueError):
            return None

    def get(self, name: str, what: str) -> TensorType:
        """The type of tensor `name` (`what` names it in errors)."""
        tp = self._onnx_types().get(name)
        if tp is not None:
            t = type_from_proto(tp, what, inferred=True)
            if not isinstance(t, TensorType) or t.shape is not None or name not in self._ort_types():
                return as_tensor_type(t)
        found = self._ort_types().get(name)
        if found is None:
            why = f" (onnxruntime: {self._ort_error})" if self._ort_error else ""
            raise IRError(f"{what}: neither onnx's nor onnxruntime's shape inference can tell its type{why}")
        elem, shape = found
        if elem not in _ORT_ELEMENTS:
            raise IRError(f"{what} has type {elem}, which irc's IR has no element type for")
        # onnxruntime reports an unknown rank as [] too: only a non-empty shape says something
        dims = None if not shape else tuple(d if isinstance(d, (int, str)) and d != "" and
                                            not (isinstance(d, int) and d < 0) else None for d in shape)
        return TensorType(dims, _ORT_ELEMENTS[elem])

    def _ort_types(self) -> dict[str, tuple[str, list]]:
        """onnxruntime's types of the top-level graph's node outputs (its graph resolution runs
        the type rules of every domain it has kernels for)."""
        if self._ort is None:
            self._ort = {}
            try:
                import onnxruntime as ort

                m = onnx.ModelProto()
                m.CopyFrom(self.model)
                have = {o.name for o in m.graph.output}
                for node in m.graph.node:
                    for o in node.output:
                        if o and o not in have:
                            m.graph.output.add().name = o
                            have.add(o)
                opts = ort.SessionOptions()
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
                opts.log_severity_level = 3
                sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
                for o in sess.get_outputs():
                    self._ort[o.name] = (o.type, o.shape)
            except Exception as e:
                self._ort_error = " ".join(str(e).split())[:300]
        return self._ort


def refine(declared: TensorType, inferred: TensorType | None) -> TensorType:
    """`declared` with the dims it leaves unknown filled in from `inferred` (sizes or symbolic
    dims of shape inference), when both have one rank and the same plain element type."""
    if (inferred is None or declared.shape is None or inferred.shape is None
            or len(declared.shape) != len(inferred.shape) or declared.storage != inferred.storage):
        return declared
    if all(d is not None or i is None for d, i in zip(declared.shape, inferred.shape)):
        return declared
    return declared.with_shape(d if d is not None else i for d, i in zip(declared.shape, inferred.shape))


def type_to_proto(t: ValueType) -> onnx.TypeProto:
    """The ONNX type of an IR type (a tensor's dims: sizes, names, or unknown)."""
    from onnx import helper

    if isinstance(t, SequenceType):
        return helper.make_sequence_type_proto(type_to_proto(t.of))
    if isinstance(t, OptionalType):
        return helper.make_optional_type_proto(type_to_proto(t.of))
    if isinstance(t, MapType):
        return helper.make_map_type_proto(ELEMENT_TO_ONNX[t.key], type_to_proto(t.value))
    elem = ELEMENT_TO_ONNX.get(t.storage)
    if elem is None:
        raise IRError(f"element type {t.storage} has no ONNX equivalent")
    dims = None if t.shape is None else [d if isinstance(d, (int, str)) else None for d in t.shape]
    return helper.make_tensor_type_proto(elem, dims)
