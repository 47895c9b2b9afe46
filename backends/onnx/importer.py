"""ONNX -> IR.

    import_onnx("model.onnx") -> Graph

Steps:
  1. load the model; external data is read only from files inside the model's folder;
  2. bring the default-domain opset to CANONICAL_OPSET, so each converter handles one form of
     its op: older opsets through onnx's version converter, newer ones (that onnx defines) as
     they are when their ops changed only in element types, else through the converter
     (canonicalize_opset); an opset onnx does not define is refused;
  3. fold at import: Constant / ConstantOfShape / every node whose inputs are all constants (onnx's
     reference evaluator computes it), and Shape/Size of tensors whose shape is static — this
     removes the shape subgraphs (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) exporters emit;
  4. convert node by node, naming each result after its ONNX tensor: by the converter of its op
     type (backends/onnx/ops/*) into declared IR ops, or as a generic op that keeps the node as it
     is (backends/onnx/generic_import.py) when irc has no converter for it, when an input's rank
     is unknown, or when the converter cannot express the node (NotExpressible: a parameter irc
     keeps as an attribute is computed at run time, a form irc does not declare). Why a node
     became generic is recorded in the graph's `import_notes`. Nested graphs (If/Loop/Scan
     bodies) are imported the same way, each into an isolated IR graph. Quantization nodes
     give values quantized types (ops/quant.py); a node that would read such a value's stored
     integers through an IR op on real values stays generic;
  5. with `fuse_qdq` (the default), DequantizeLinear -> op -> QuantizeLinear groups become int8
     ops (passes/fuse_qdq.py, specs/quantization.md §6).

Result types come from the converters' type rules; generic ops take theirs from onnx's (or
onnxruntime's) shape inference (backends/onnx/inferred_types.py).
Identity and Dropout (inference mode) become aliases of their input.
"""

from __future__ import annotations

import os
import re
from collections import ChainMap
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnx
from onnx import numpy_helper

from irc.ir.attrs import REQUIRED
from irc.ir.diagnostics import IRError
from irc.ir.generic import generic_name
from irc.ir.graph import INLINE_LIMIT, Graph
from irc.ir.op import Op
from irc.ir.registry import VerifyError
from irc.ir.types import NUMPY_TO_ELEMENT, TensorType
from irc.ir.value import Value

from .generic_import import import_generic
from .inferred_types import InferredTypes, refine, type_from_proto
from .registry import CANONICAL_OPSET, IMPORTERS

ALIAS_OPS = {"Identity", "Dropout"}
# Ops never folded even when their inputs are constant (random or stateful; DequantizeLinear of
# constant integers becomes a quantized constant, see ops/quant.py).
NO_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
           "Bernoulli", "If", "Loop", "Scan", "DequantizeLinear"}



class NotExpressible(IRError):
    """A converter cannot express a (valid) node with declared IR ops: a parameter irc keeps as an
    attribute is only known at run time, or the node uses a form irc does not declare. The
    importer then keeps the node as a generic op; other converter errors (an invalid node) stand."""


# -- loading --------------------------------------------------------------------------------------

def _check_external_data(model: onnx.ModelProto, base: Path) -> None:
    """Every external-data location must be a relative path resolving inside `base`."""
    root = base.resolve()
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                tensors.append(a.t)
    for t in tensors:
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        target = (root / loc).resolve()
        if os.path.isabs(loc) or (target != root and root not in target.parents):
            raise IRError(f"tensor {t.name!r}: external data path {loc!r} points outside the model's "
                          f"folder {str(root)!r}; refusing to read it")
        if not target.is_file():
            raise IRError(f"tensor {t.name!r}: external data file {str(target)!r} not found")


def tensor_array(t: onnx.TensorProto, what: str = "") -> np.ndarray:
    """numpy_helper.to_array, with a tensor whose data does not fit its type or dims as an IRError."""
    try:
        return numpy_helper.to_array(t)
    except Exception as e:  # numpy and onnx fail in several ways on inconsistent tensors
        raise IRError(f"{what or 'tensor'} {t.name!r}: its data does not match its element type and dims "
                      f"({type(e).__name__}: {e})") from None


def type_name(elem_type: int) -> str:
    """An ONNX element type's name, or its number when ONNX defines none."""
    values = onnx.TensorProto.DataType.values()
    return onnx.TensorProto.DataType.Name(elem_type) if elem_type in values else f"number {elem_type}"


def _check_text_fields(model: onnx.ModelProto, path: Path) -> None:
    """Names, op types and domains must be UTF-8 text (protobuf hands out other bytes as bytes)."""
    def bad(value) -> bool:
        return isinstance(value, bytes)

    def check_graph(g: onnx.GraphProto, where: str) -> None:
        if bad(g.name):
            raise IRError(f"{path}: {where}: the graph's name is not UTF-8 text")
        for kind, items in (("input", g.input), ("output", g.output), ("value_info", g.value_info),
                            ("initializer", g.initializer)):
            for i, item in enumerate(items):
                if bad(item.name):
                    raise IRError(f"{path}: {where}: {kind} #{i} has a name that is not UTF-8 text")
        for kind, items in (("input", g.input), ("output", g.output), ("value_info", g.value_info)):
            for i, item in enumerate(items):
                dims = item.type.tensor_type.shape.dim if item.type.HasField("tensor_type") else []
                if any(bad(d.dim_param) for d in dims):
                    raise IRError(f"{path}: {where}: {kind} #{i} has a symbolic dimension that is not UTF-8 text")
        for i, n in enumerate(g.node):
            fields = [n.op_type, n.domain, n.name, *n.input, *n.output, *(a.name for a in n.attribute)]
            if any(bad(f) for f in fields):
                raise IRError(f"{path}: {where}: node #{i} has a name, op type or attribute name that is "
                              "not UTF-8 text")
            for a in n.attribute:
                for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                    check_graph(sub, f"{where}, node #{i} attribute {a.name}")

    if any(bad(o.domain) for o in model.opset_import):
        raise IRError(f"{path}: an opset domain is not UTF-8 text")
    check_graph(model.graph, "graph")


def load_onnx(source: str | os.PathLike | onnx.ModelProto) -> onnx.ModelProto:
    """Read an ONNX model (external data confined to its folder) into memory."""
    if isinstance(source, onnx.ModelProto):
        return source
    path = Path(source)
    if not path.is_file():
        raise IRError(f"{path}: file not found")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf decode errors have several types
        raise IRError(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from None
    if not model.HasField("graph"):  # an empty file decodes as an empty ModelProto
        what = "the file is empty" if path.stat().st_size == 0 else "it holds no graph"
        raise IRError(f"{path}: not an ONNX model ({what})")
    _check_text_fields(model, path)
    _check_external_data(model, path.parent)
    try:
        onnx.external_data_helper.load_external_data_for_model(model, str(path.parent))
    except (OSError, ValueError) as e:
        raise IRError(f"{path}: cannot read external data ({e})") from None
    return model


def default_opset(model: onnx.ModelProto) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    return 1


def _signature(schema) -> tuple:
    """An op schema without its type constraints: inputs, outputs, attributes and arities."""
    params = lambda ps: [(p.name, p.option, p.type_str, p.is_homogeneous, p.min_arity) for p in ps]  # noqa: E731
    attrs = {n: (a.type, a.required, a.default_value.SerializeToString()) for n, a in schema.attributes.items()}
    return (params(schema.inputs), params(schema.outputs), attrs, schema.min_input, schema.max_input,
            schema.min_output, schema.max_output)


def _changed_after_canonical(op_type: str, version: int) -> bool:
    """Whether the default-domain op's definition at `version` differs from its CANONICAL_OPSET one
    in more than admitting further element types (new ops and unknown names: False, the importer
    reports those as unsupported)."""
    try:
        old = onnx.defs.get_schema(op_type, CANONICAL_OPSET, "")
        new = onnx.defs.get_schema(op_type, version, "")
    except onnx.defs.SchemaError:
        return False
    if new.since_version == old.since_version:
        return False
    if _signature(new) != _signature(old):
        return True
    old_types = {c.type_param_str: set(c.allowed_type_strs) for c in old.type_constraints}
    new_types = {c.type_param_str: set(c.allowed_type_strs) for c in new.type_constraints}
    return old_types.keys() != new_types.keys() or any(not old_types[k] <= new_types[k] for k in old_types)


def _default_domain_ops(graph: onnx.GraphProto) -> set[str]:
    ops = set()
    for n in graph.node:
        if n.domain in ("", "ai.onnx"):
            ops.add(n.op_type)
        for a in n.attribute:
            for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                ops |= _default_domain_ops(g)
    return ops


def canonicalize_opset(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with nodes that mean what they mean in CANONICAL_OPSET.

    Older opsets (from 1) are upgraded by onnx's version converter, if it can. A newer opset,
    up to the newest the installed onnx defines, is read as CANONICAL_OPSET when each of the
    model's ops changed since then only by admitting more element types (opset 22 added bfloat16
    almost everywhere); otherwise the converter brings the model down, if it can. An opset the
    installed onnx does not define is refused: nothing says what its ops mean. A refusal of the
    converter carries its reason.
    """
    if not any(o.domain in ("", "ai.onnx") for o in model.opset_import):
        if any(n.domain in ("", "ai.onnx") for n in model.graph.node):
            raise IRError("the model uses ops of ONNX's default domain but imports no opset of it")
        return model  # nothing to upgrade: every node is of another domain
    version = default_opset(model)
    if version < 1:
        raise IRError(f"the model declares default-domain opset {version}; opsets start at 1")
    newest = onnx.defs.onnx_opset_version()
    if version > newest:
        raise IRError(f"the model declares default-domain opset {version}, which the installed onnx "
                      f"{onnx.__version__} does not define (its newest is {newest}); irc reads opsets 1 to "
                      f"{newest}")
    if version == CANONICAL_OPSET:
        return model
    if version > CANONICAL_OPSET:
        changed = sorted(op for op in _default_domain_ops(model.graph) if _changed_after_canonical(op, version))
        if not changed:  # every node means what it means in CANONICAL_OPSET
            return model
        from onnx import version_converter

        try:
            return version_converter.convert_version(model, CANONICAL_OPSET)
        except Exception as e:
            raise IRError(f"cannot bring the model from opset {version} down to {CANONICAL_OPSET}: "
                          f"{', '.join(changed)} changed after opset {CANONICAL_OPSET} and onnx's version "
                          f"converter cannot express the model in opset {CANONICAL_OPSET} "
                          f"({_converter_reason(e)})") from None
    what = f"cannot upgrade the model from opset {version} to {CANONICAL_OPSET}"
    # the converter fails on ops ONNX no longer defines with an unformatted message: name them
    gone = sorted({n.op_type for n in model.graph.node
                   if n.domain in ("", "ai.onnx") and not onnx.defs.has(n.op_type)})
    if gone:
        raise IRError(f"{what}: op type(s) {', '.join(gone)} are not defined by ONNX's "
                      f"default domain (removed experimental ops or unknown names)")
    from .ops.resample import upgrade_opset  # onnx's converter, keeping Upsample's sampling

    try:
        return upgrade_opset(model, CANONICAL_OPSET)
    except Exception as e:
        raise IRError(f"{what} with onnx's version converter: {_converter_reason(e)}") from None


def _converter_reason(e: Exception) -> str:
    """The converter's message without its source location and assertion text."""
    text = " ".join(str(e).split())
    m = re.search(r"No Adapter From Version \$?(\d+) for (\w+)", text)
    if m:
        return f"it has no adapter for {m.group(2)} from opset {m.group(1)}"
    return text.rsplit("failed: ", 1)[-1] or type(e).__name__


# -- conversion context ---------------------------------------------------------------------------

def onnx_attr(a: onnx.AttributeProto) -> Any:
    try:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, onnx.TensorProto):
            return tensor_array(v, f"attribute {a.name}")
        if isinstance(v, bytes):
            return v.decode()
        if isinstance(v, list):
            return tuple(x.decode() if isinstance(x, bytes) else x for x in v)
        return v
    except UnicodeDecodeError:
        raise IRError(f"attribute {a.name}: a string that is not UTF-8 text") from None
    except ValueError as e:  # an attribute of no known type
        raise IRError(f"attribute {a.name}: {e}") from None


def _attribute_kind(kind: int) -> str:
    names = onnx.AttributeProto.AttributeType
    return names.Name(kind) if kind in names.values() else f"number {kind}"


def _check_against_schema(node: onnx.NodeProto) -> None:
    """A default-domain node must fit its op's CANONICAL_OPSET schema: the number of inputs and
    outputs, its required inputs and attributes present, each attribute of the kind the schema
    gives it (what onnx's checker checks of a node; converters rely on it)."""
    if node.domain not in ("", "ai.onnx"):
        return
    try:
        schema = onnx.defs.get_schema(node.op_type, CANONICAL_OPSET, "")
    except onnx.defs.SchemaError:
        return  # an op ONNX does not define at this opset: a generic op, checked by onnxruntime
    where = f"node {node.name or '(unnamed)'!r} ({node.op_type})"
    single = onnx.defs.OpSchema.FormalParameterOption.Single
    for kind, given, params, lo, hi in (("inputs", node.input, schema.inputs, schema.min_input, schema.max_input),
                                        ("outputs", node.output, schema.outputs, schema.min_output,
                                         schema.max_output)):
        if not lo <= len(given) <= hi:
            allowed = f"{lo}" if lo == hi else f"{lo} to {hi}" if hi < 2**31 - 1 else f"at least {lo}"
            raise IRError(f"{where}: has {len(given)} {kind}, the op takes {allowed}")
        for i, name in enumerate(given):
            param = params[min(i, len(params) - 1)] if params else None
            if param is not None and param.option == single and not name:
                raise IRError(f"{where}: {kind[:-1]} {i} ({param.name}) is required but empty")
    present = {a.name for a in node.attribute}
    missing = sorted(n for n, a in schema.attributes.items() if a.required and n not in present)
    if missing:
        raise IRError(f"{where}: required attribute(s) {', '.join(missing)} missing")
    for a in node.attribute:
        spec = schema.attributes.get(a.name)
        # onnx's stub of the pybind11 enum AttrType leaves out its value
        code = int(spec.type.value) if spec is not None else None  # type: ignore[attr-defined]
        if code is not None and a.type != code:
            raise IRError(f"{where}: attribute {a.name} is {_attribute_kind(a.type)}, but ONNX defines it as "
                          f"{_attribute_kind(code)}")


class ImportContext:
    """What a converter sees: the node, its attributes, its inputs as values or constants."""

    def __init__(self, importer: "_Importer", node: onnx.NodeProto) -> None:
        self.importer = importer
        self.node = node
        self.graph = importer.graph
        try:
            self.attrs = {a.name: onnx_attr(a) for a in node.attribute}
        except IRError as e:
            raise self.error(str(e)) from None

    @property
    def num_inputs(self) -> int:
        return len(self.node.input)

    def has_input(self, i: int) -> bool:
        return i < len(self.node.input) and self.node.input[i] != ""

    def attr(self, name: str, default: Any = REQUIRED) -> Any:
        if name in self.attrs:
            return self.attrs[name]
        if default is REQUIRED:
            raise self.error(f"attribute {name!r} is required")
        return default

    def const(self, i: int) -> np.ndarray | None:
        """The array of input `i` when it is a constant (None when absent or computed)."""
        if not self.has_input(i):
            return None
        return self.importer.constants.get(self.node.input[i])

    def input(self, i: int) -> Value | None:
        """Input `i` as a value (constants become const ops); None when absent."""
        if not self.has_input(i):
            return None
        return self.importer.value(self.node.input[i])

    def inputs(self) -> list[Value]:
        values = [self.input(i) for i in range(self.num_inputs) if self.has_input(i)]
        return [v for v in values if v is not None]

    def emit(self, name: str, operands: Sequence[Value], attrs: dict[str, Any] | None = None,
             types: Sequence[TensorType] | None = None) -> list[Value]:
        """Create an IR op at the end of the graph; returns its results. An op whose type rule
        refuses these operands (a valid node, by onnx's checks, that the declared op does not
        cover, such as a rank it cannot tell) is NotExpressible."""
        try:
            op = self.graph.create(name, list(operands), attrs or {}, types=types)
        except VerifyError as e:
            raise self.unsupported(str(e)) from None
        return list(op.results)

    def error(self, message: str) -> IRError:
        n = self.node
        return IRError(f"node {n.name or '(unnamed)'!r} ({n.op_type}): {message}")

    def unsupported(self, message: str) -> NotExpressible:
        """The error for a valid node that irc's declared ops cannot express (see NotExpressible)."""
        return NotExpressible(str(self.error(message)))

    def require_constants(self, params: dict[int, str]) -> None:
        """Raise NotExpressible when one of the inputs in `params` (index -> what) is known only at
        run time. Inputs that are absent, constant, statically empty, or whose every element
        import can work out (a shape vector, see ops/_shape_values.py) pass."""
        from .ops._shape_values import shape_elements

        for i, what in params.items():
            if not self.has_input(i) or self.const(i) is not None:
                continue
            v = self.input(i)
            if v is None or v.type.numel == 0:
                continue
            elems = shape_elements(self.graph, v)
            if elems is not None and all(e is not None for e in elems):
                continue
            raise self.not_constant(i, what)

    def not_constant(self, i: int, what: str, detail: str | None = None) -> NotExpressible:
        """The error for input `i` (`what`), which irc needs at import but which is not a constant."""
        head = f"input {i} ({what}) is not a constant"
        return self.unsupported(f"{head}: {detail or 'it is computed at run time'}")


# -- the importer ---------------------------------------------------------------------------------

class _Importer:
    """Lowers one ONNX graph: the model's graph, or (with `parent`) a body nested in a node's
    attribute, whose last inputs are the values of the enclosing graph it reads (`captured`)."""

    def __init__(self, model: onnx.ModelProto, name: str, proto: onnx.GraphProto | None = None,
                 parent: "_Importer | None" = None, captured: Sequence[str] = ()) -> None:
        self.model = model
        self.proto = proto if proto is not None else model.graph
        self.parent = parent
        self.graph: Graph = Graph(name) if parent is None else parent.graph.nested(name)
        # constants of the enclosing graphs are visible here (a body reads them as its own)
        self.constants: ChainMap[str, np.ndarray] = (ChainMap() if parent is None
                                                     else parent.constants.new_child())
        self.values: dict[str, Value] = {}
        self.captured = list(captured)
        self.types: InferredTypes = parent.types if parent is not None else InferredTypes(model)
        self.shapes: dict[str, tuple[int, ...]] = parent.shapes if parent is not None else {}
        self.unavailable: dict[str, IRError] = {}
        self.generic_notes: list[str] = parent.generic_notes if parent is not None else []

    def value(self, name: str) -> Value:
        v = self.values.get(name)
        if v is not None:
            return v
        if name in self.constants:
            arr = self.constants[name]
            if NUMPY_TO_ELEMENT.get(arr.dtype) is None:
                raise IRError(f"constant {name!r} has unsupported dtype {arr.dtype}")
            v = self.graph.const(arr, name, inline=arr.size <= INLINE_LIMIT)
            self.values[name] = v
            return v
        if name in self.unavailable:
            raise self.unavailable[name]
        raise IRError(f"tensor {name!r} is used but never defined")

    def input_type(self, vi: onnx.ValueInfoProto):
        """The type of an input of this graph: as declared (a graph input's dims of size 0 or -1
        mean "unknown", as some converters write them), or as inferred for a body's input."""
        if self.parent is None:
            what = f"graph input {vi.name!r}"
            t = type_from_proto(vi.type, what, zero_is_unknown=True)
            if isinstance(t, TensorType) and t.shape is None:
                raise IRError(f"{what} has no rank; irc needs ranked inputs (give its shape with --input-shape)")
            return t
        what = f"input {vi.name!r} of nested graph {self.proto.name!r}"
        declared = vi.type.WhichOneof("value")
        if declared and not (declared == "tensor_type" and not vi.type.tensor_type.elem_type):
            return type_from_proto(vi.type, what)
        return self.types.get(vi.name, what)

    def run(self) -> Graph:
        g = self.proto
        for node in g.node:  # before folding: the fold and the converters rely on the schema's arity
            _check_against_schema(node)
        for init in g.initializer:
            self.constants[init.name] = tensor_array(init, "initializer")
        for vi in g.input:
            if vi.name in self.constants:
                continue  # old-style initializer listed as input: a constant
            self.values[vi.name] = self.graph.add_input(self.input_type(vi), vi.name)
        for name in self.captured:  # the enclosing graph's values this body reads
            if self.parent is None:
                raise IRError(f"graph {self.graph.name!r} captures {name!r} but has no enclosing graph")
            self.values[name] = self.graph.add_input(self.parent.value(name).type, name)
        if self.parent is None:
            self._collect_static_shapes()
        self._fold_constants()
        for node in g.node:
            if all(o in self.constants or o == "" for o in node.output):
                continue
            self._convert(node)
        outputs = []
        for vi in g.output:
            v = self.value(vi.name)
            if self.parent is None and v.name != vi.name:  # a graph output carries its own name
                if isinstance(v.type, TensorType):
                    v = self.graph.create("identity", [v], names=[vi.name]).result
                else:
                    v = self.graph.append(Op(generic_name("", "Identity"), [v], [v.type], {}, [vi.name])).result
            outputs.append(v)
        self.graph.set_outputs(outputs)
        return self.graph

    def _collect_static_shapes(self) -> None:
        for name, t in self.types.items():
            if t.is_static:
                self.shapes[name] = t.static_shape()

    def _fold_constants(self) -> None:
        """Evaluate, in order, every node computable at import (see the module docstring)."""
        for node in self.proto.node:
            if node.domain not in ("", "ai.onnx") or node.op_type in NO_FOLD:
                continue
            if node.op_type == "Constant":
                self.constants[node.output[0]] = _constant_value(node)
                continue
            if node.op_type in ("Shape", "Size") and node.input[0] in self.shapes and node.input[0] not in self.constants:
                shape = self.shapes[node.input[0]]
                if node.op_type == "Size":
                    self.constants[node.output[0]] = np.array(int(np.prod(shape)), dtype=np.int64)
                else:
                    attrs = {a.name: onnx_attr(a) for a in node.attribute}
                    start, end = attrs.get("start", 0), attrs.get("end", None)
                    self.constants[node.output[0]] = np.array(shape[start:end], dtype=np.int64)
                continue
            inputs = [i for i in node.input if i]
            if node.op_type in ALIAS_OPS or not all(i in self.constants for i in inputs):
                continue
            if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
                continue
            self._evaluate(node)

    def _evaluate(self, node: onnx.NodeProto) -> None:
        from onnx.reference import ReferenceEvaluator

        feeds = {i: self.constants[i] for i in node.input if i}
        try:
            sub = onnx.helper.make_graph(
                [node], "fold",
                [onnx.helper.make_tensor_value_info(i, onnx.helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                 for i, a in feeds.items()],
                [onnx.helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output if o])
            m = onnx.helper.make_model(sub, opset_imports=[onnx.helper.make_opsetid("", max(default_opset(self.model), 7))])
            outs = ReferenceEvaluator(m).run(None, feeds)
        except Exception as e:
            name = node.name or node.output[0]
            raise IRError(f"node {name!r} ({node.op_type}): cannot fold it at import ({type(e).__name__}: {e})") from None
        if not all(isinstance(a, np.ndarray) and NUMPY_TO_ELEMENT.get(a.dtype) is not None for a in outs):
            return  # a sequence, an optional or a type irc cannot hold: the node stays an op
        for o, a in zip([o for o in node.output if o], outs):
            self.constants[o] = np.asarray(a)

    def _convert(self, node: onnx.NodeProto) -> None:
        """Lower one node: by its converter to declared IR ops when irc has one and it can
        express the node, otherwise as a generic op (backends/onnx/generic_import.py)."""
        default = node.domain in ("", "ai.onnx")
        if default and node.op_type in ALIAS_OPS and not any(node.output[1:]):
            self.values[node.output[0]] = self.value(node.input[0])
            return
        converter = IMPORTERS.get(node.op_type) if default else IMPORTERS.get(f"{node.domain}:{node.op_type}")
        reason = None
        if converter is not None:
            from .ops.quant import reads_quantized_integers

            unranked = [i for i in node.input if i and i in self.values and not self.values[i].type.is_ranked]
            if unranked:
                t = self.values[unranked[0]].type
                reason = (f"input {unranked[0]!r} has no known rank" if isinstance(t, TensorType)
                          else f"input {unranked[0]!r} is {t}, not a tensor")
            elif (reason := reads_quantized_integers(node, self.values)) is None:
                mark = (len(self.graph.ops), set(self.values), set(self.graph.weights))
                try:
                    self._convert_declared(node, converter)
                    return
                except NotExpressible as e:
                    self._roll_back(*mark)
                    reason = str(e)
        import_generic(self, node, reason)

    def _roll_back(self, n_ops: int, names: set[str], weights: set[str]) -> None:
        """Undo a converter that gave up part way: drop the ops, values and weights it made
        (only those ops read their results)."""
        for op in reversed(self.graph.ops[n_ops:]):
            op.drop_operands()
            op.graph = None
        del self.graph.ops[n_ops:]
        for k in set(self.values) - names:
            del self.values[k]
        for k in set(self.graph.weights) - weights:
            del self.graph.weights[k]

    def _convert_declared(self, node: onnx.NodeProto, converter) -> None:
        ctx = ImportContext(self, node)
        first = len(self.graph.ops)
        results = converter(ctx, node)
        made = {id(r) for op in self.graph.ops[first:] for r in op.results}
        for i, name in enumerate(node.output):
            if not name:
                continue
            if i >= len(results):
                # an optional output irc does not compute: an error only if something reads it
                self.unavailable[name] = ctx.error(f"output {i} ({name!r}) is not supported")
                continue
            v = results[i]
            if v.name is None:  # a new result: it carries the ONNX tensor name
                v.name = name
            if id(v) in made:  # dims the type rule leaves open, shape inference may know
                v.type = refine(v.type, self.types.lookup(name))
            self.values[name] = v


def _constant_value(node: onnx.NodeProto) -> np.ndarray:
    if len(node.attribute) != 1:
        raise IRError(f"Constant node {node.name!r}: needs exactly one value attribute, has {len(node.attribute)}")
    a = node.attribute[0]
    v = onnx_attr(a)
    if a.name == "value":
        return np.asarray(v)
    if a.name == "value_float":
        return np.array(v, dtype=np.float32)
    if a.name == "value_floats":
        return np.array(v, dtype=np.float32)
    if a.name == "value_int":
        return np.array(v, dtype=np.int64)
    if a.name == "value_ints":
        return np.array(v, dtype=np.int64)
    raise IRError(f"Constant node {node.name!r}: attribute {a.name} is not supported")


def import_onnx(source: str | os.PathLike | onnx.ModelProto, name: str = "main",
                input_shapes: dict | None = None) -> Graph:
    """Lower an ONNX model (path or ModelProto) into a verified IR graph, node for node (a QDQ
    model's QuantizeLinear / DequantizeLinear stay quantize / dequantize ops: `irc.import_onnx`
    then fuses them with the `fuse-qdq` pass); `input_shapes` ({input name: dims},
    backends/onnx/input_shapes.py) fixes input dims before import."""
    from .input_shapes import specialize_inputs

    model = canonicalize_opset(specialize_inputs(load_onnx(source), input_shapes or {}))
    importer = _Importer(model, name)
    graph = importer.run()
    graph.import_notes = importer.generic_notes
    from irc.ir.verifier import verify_graph

    try:
        verify_graph(graph)
    except VerifyError as e:
        raise IRError(f"the imported graph does not verify: {e}") from None
    return graph
