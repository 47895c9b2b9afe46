"""ONNX nodes as generic ops (ir/generic.py): every node irc has no converter for, or whose
converter cannot express it (a parameter only known at run time, a form irc does not declare).

The node's inputs become operands (empty inputs are listed in `onnx.absent`), its attributes are
kept under their names (nested graphs are imported as isolated IR graphs, see below), and its
result types come from shape inference (backends/onnx/inferred_types.py).

A nested graph reads tensors of the enclosing graphs by name. Constants among them are copied
in as the body's own constants; every other one is "captured": it becomes an operand of the op
(after its own inputs, counted by `onnx.captures`) and an input of every body of the op (after
the body's own inputs), in order of first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import onnx

from irc.ir.diagnostics import IRError
from irc.ir.generic import ABSENT_KEY, ABSENT_OUTPUTS_KEY, CAPTURES_KEY, VERSION_KEY, generic_name
from irc.ir.op import Op
from irc.ir.types import NUMPY_TO_ELEMENT

if TYPE_CHECKING:
    from .importer import _Importer

_SUBGRAPH_KINDS = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    out = []
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            out.append(a.g)
        elif a.type == onnx.AttributeProto.GRAPHS:
            out.extend(a.graphs)
    return out


def free_names(graph: onnx.GraphProto) -> list[str]:
    """Tensors a graph (or a graph nested in it) reads but does not define, in order of first use."""
    defined = {vi.name for vi in graph.input} | {t.name for t in graph.initializer}
    defined |= {t.values.name for t in graph.sparse_initializer}
    used: dict[str, None] = {}
    for node in graph.node:
        for name in node.input:
            if name and name not in defined:
                used.setdefault(name)
        for sub in _subgraphs(node):
            for name in free_names(sub):
                if name not in defined:
                    used.setdefault(name)
        defined.update(o for o in node.output if o)
    for vi in graph.output:
        if vi.name not in defined:
            used.setdefault(vi.name)
    return list(used)


def _attribute(imp: "_Importer", node: onnx.NodeProto, a: onnx.AttributeProto, captured: list[str]):
    from .importer import _Importer, onnx_attr

    what = f"node {node.name or node.output[0]!r} ({node.op_type}): attribute {a.name!r}"
    if a.type == onnx.AttributeProto.GRAPH:
        return _Importer(imp.model, a.g.name or a.name, a.g, imp, captured).run()
    if a.type == onnx.AttributeProto.GRAPHS:
        return tuple(_Importer(imp.model, g.name or a.name, g, imp, captured).run() for g in a.graphs)
    if a.type == onnx.AttributeProto.TYPE_PROTO:
        from .inferred_types import type_from_proto

        return type_from_proto(a.tp, what)
    if a.type in (onnx.AttributeProto.SPARSE_TENSOR, onnx.AttributeProto.SPARSE_TENSORS,
                  onnx.AttributeProto.TYPE_PROTOS, onnx.AttributeProto.TENSORS):
        kind = onnx.AttributeProto.AttributeType.Name(a.type).lower()
        raise IRError(f"{what} is of kind {kind}, which irc's IR cannot hold")
    value = onnx_attr(a)
    if isinstance(value, np.ndarray) and NUMPY_TO_ELEMENT.get(value.dtype) is None:
        raise IRError(f"{what} holds a tensor of dtype {value.dtype}, which irc's IR has no element type for")
    return value


def domain_version(model: onnx.ModelProto, domain: str) -> int:
    for o in model.opset_import:
        if o.domain == domain or (domain == "" and o.domain == "ai.onnx"):
            return int(o.version)
    return 1


def _newer_than_canonical(op_type: str) -> bool:
    """Whether ONNX's default domain defines `op_type` only after CANONICAL_OPSET."""
    from .registry import CANONICAL_OPSET

    try:
        onnx.defs.get_schema(op_type, CANONICAL_OPSET, "")
        return False
    except onnx.defs.SchemaError:
        return True


def import_generic(imp: "_Importer", node: onnx.NodeProto, reason: str | None = None) -> None:
    """Lower `node` to one generic op at the end of the importer's graph."""
    where = f"node {node.name or next((o for o in node.output if o), '?')!r} ({node.op_type})"
    operands, absent = [], []
    for i, name in enumerate(node.input):
        if name:
            operands.append(imp.value(name))
        else:
            absent.append(i)
    captured = []
    if any(a.type in _SUBGRAPH_KINDS for a in node.attribute):
        for sub in _subgraphs(node):
            for name in free_names(sub):
                if name not in imp.constants and name not in captured:
                    captured.append(name)
    attrs = {}
    for a in node.attribute:
        attrs[a.name] = _attribute(imp, node, a, captured)
    if captured:
        attrs[CAPTURES_KEY] = len(captured)
    while absent and absent[-1] == len(operands) + len(absent) - 1:
        absent.pop()  # trailing empty inputs are simply left out
    if absent:
        attrs[ABSENT_KEY] = tuple(absent)
    domain = "" if node.domain in ("", "ai.onnx") else node.domain
    if domain:
        attrs[VERSION_KEY] = domain_version(imp.model, node.domain)
    elif _newer_than_canonical(node.op_type):
        # an op ONNX added after the opset irc reads and writes (RMSNormalization, Attention: 23):
        # it needs the model's own opset, which export then declares
        attrs[VERSION_KEY] = domain_version(imp.model, "")
    outputs = list(node.output)
    while outputs and not outputs[-1]:
        outputs.pop()
    if "" in outputs:
        attrs[ABSENT_OUTPUTS_KEY] = tuple(i for i, o in enumerate(outputs) if not o)
        outputs = [o for o in outputs if o]
    try:
        types = [imp.types.get(o, f"{where}: output {o!r}") for o in outputs]
    except IRError as e:
        if reason is not None:
            raise IRError(f"{where}: {reason}; as a generic op instead, {e}") from None
        raise
    op = Op(generic_name(domain, node.op_type), operands + [imp.value(n) for n in captured], types,
            attrs, outputs)
    imp.graph.append(op)
    for name, r in zip(outputs, op.results):
        imp.values[name] = r
    if domain:
        _check_runnable(imp, op, where)
    if reason is not None:
        imp.generic_notes.append(f"{where}: imported as a generic op: {reason}")


def _check_runnable(imp: "_Importer", op: Op, where: str) -> None:
    """Refuse an op of another domain that onnxruntime cannot run (nothing else here can): once
    per op kind and version."""
    from .generic import OneNodeRunner

    key = (op.name, op.attrs.get(VERSION_KEY))
    checked = imp.types.runnable
    if key not in checked:
        try:
            OneNodeRunner(op).build()
            checked[key] = None
        except IRError as e:
            checked[key] = str(e).split(": ", 1)[-1]
    if checked[key] is not None:
        raise IRError(f"{where}: nothing here can run it: {checked[key]}")
