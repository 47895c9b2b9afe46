"""IR -> ONNX.

    export_onnx(graph) -> onnx.ModelProto       (opset CANONICAL_OPSET, passes onnx.checker)

Graph inputs and outputs keep their names; `const` ops become initializers named after their
values; every other op is written by the exporter registered for its name (backends/onnx/ops/*;
generic ops by backends/onnx/generic.py), through ExportContext, which names tensors uniquely
(across nested graphs too) and collects nodes and initializers.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from irc.ir.diagnostics import IRError
from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.value import Value

from .registry import CANONICAL_OPSET, missing_exporters, require_exporter


class ExportContext:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.names: dict[int, str] = {}
        self.taken: set[str] = set()
        self.counter = 0
        self.extra_opsets: dict[str, int] = {}

    def fresh(self, base: str) -> str:
        """A tensor name not used yet, close to `base`."""
        base = base or "t"
        name, n = base, 1
        while name in self.taken:
            name = f"{base}_{n}"
            n += 1
        self.taken.add(name)
        return name

    def name(self, v: Value | None) -> str:
        """The ONNX tensor name of `v` ('' for an absent optional input)."""
        if v is None:
            return ""
        key = id(v)
        if key not in self.names:
            if v.name:
                base = v.name
            else:
                base = f"v{self.counter}"
                self.counter += 1
            self.names[key] = self.fresh(base)
        return self.names[key]

    def node(self, op_type: str, inputs: Sequence[Value | str | None], outputs: Sequence[Value | str],
             domain: str = "", name: str | None = None, **attrs: Any) -> onnx.NodeProto:
        """Append an ONNX node; None-valued attributes are left out."""
        ins = [i if isinstance(i, str) else self.name(i) for i in inputs]
        outs = [o if isinstance(o, str) else self.name(o) for o in outputs]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        n = helper.make_node(op_type, ins, outs, name=name or self.fresh("n_" + (outs[0] if outs else op_type)),
                             domain=domain or None, **attrs)
        self.nodes.append(n)
        return n

    def initializer(self, array: np.ndarray, base: str) -> str:
        """Add a constant tensor; returns its name."""
        name = self.fresh(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def use_opset(self, domain: str, version: int) -> None:
        self.extra_opsets[domain] = max(version, self.extra_opsets.get(domain, 0))

    # -- ops and graphs -----------------------------------------------------------------------
    def export_op(self, op: Op) -> None:
        """Write one op (QDQContext writes quantized graphs its own way)."""
        if op.name == "const":
            export_const(self, op)
        elif op.attrs.get("activation"):
            export_with_activation(self, op, require_exporter(op.name))
        else:
            require_exporter(op.name)(self, op)

    def subgraph(self, graph: Graph, outer: Sequence[str]) -> onnx.GraphProto:
        """A nested graph as an ONNX GraphProto: its inputs but the last len(`outer`) are the
        body's own inputs, those last ones stand for the enclosing graph's tensors `outer`."""
        saved = self.nodes, self.initializers
        self.nodes, self.initializers = [], []
        try:
            own = graph.inputs[:len(graph.inputs) - len(outer)]
            for v, name in zip(graph.inputs[len(own):], outer):
                self.names[id(v)] = name
            inputs = [value_info(self.name(v), v.type) for v in own]
            for op in graph.ops:
                self.export_op(op)
            outputs = self.output_infos(graph.outputs, {self.name(v) for v in graph.inputs})
            return helper.make_graph(self.nodes, graph.name, inputs, outputs, self.initializers)
        finally:
            self.nodes, self.initializers = saved

    def output_infos(self, values: Sequence[Value], taken: set[str]) -> list[onnx.ValueInfoProto]:
        """Value infos of a graph's outputs; ONNX wants distinct outputs that nodes produce, so an
        output that is an input or repeats an earlier one is written through an Identity."""
        infos = []
        seen: set[str] = set()
        for v in values:
            name = self.name(v)
            if name in seen or name in taken:
                alias = self.fresh(f"{name}_out")
                self.node("Identity", [name], [alias])
                name = alias
            seen.add(name)
            infos.append(value_info(name, v.type))
        return infos


def value_info(name: str, t) -> onnx.ValueInfoProto:
    from .inferred_types import type_to_proto

    try:
        return helper.make_value_info(name, type_to_proto(t))
    except IRError as e:
        raise IRError(f"tensor {name!r}: {e}") from None


def export_const(ctx: ExportContext, op: Op) -> None:
    v = op.result
    arr = ctx.graph.const_value(v)
    name = ctx.name(v)
    ctx.initializers.append(numpy_helper.from_array(np.asarray(arr), name))


def export_with_activation(ctx: ExportContext, op: Op, export) -> None:
    """Write an op with a fused activation as the op followed by Relu or Clip."""
    result = op.results[0]
    final = ctx.name(result)
    inner = ctx.fresh(final + "_preact")
    ctx.names[id(result)] = inner
    export(ctx, op)
    ctx.names[id(result)] = final
    if op.attrs["activation"] == "relu":
        ctx.node("Relu", [inner], [final])
    else:
        dtype = np.float32
        lo = ctx.initializer(np.array(op.attr("activation_min"), dtype), final + "_min")
        hi = ctx.initializer(np.array(op.attr("activation_max"), dtype), final + "_max")
        ctx.node("Clip", [inner, lo, hi], [final])


def export_onnx(graph: Graph, producer: str = "irc") -> onnx.ModelProto:
    """Write `graph` as an ONNX model."""
    ctx = ExportContext(graph)
    for v in graph.inputs:
        ctx.name(v)
    missing = missing_exporters(graph)
    if missing:
        raise IRError(f"no ONNX exporter for op(s): {', '.join(missing)}")
    for op in graph.ops:
        ctx.export_op(op)
    inputs = [value_info(ctx.name(v), v.type) for v in graph.inputs]
    outputs = ctx.output_infos(graph.outputs, {ctx.name(v) for v in graph.inputs})
    return assemble_model(ctx, inputs, outputs, producer)


def assemble_model(ctx: ExportContext, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
                   producer: str) -> onnx.ModelProto:
    """The ONNX model of the nodes and initializers `ctx` collected (opset CANONICAL_OPSET)."""
    g = helper.make_graph(ctx.nodes, ctx.graph.name, inputs, outputs, ctx.initializers)
    # a generic op ONNX added after CANONICAL_OPSET raises the default domain's opset: the ops irc
    # writes mean the same there (import reads such a model as CANONICAL_OPSET only if they do)
    opsets = [helper.make_opsetid("", max(CANONICAL_OPSET, ctx.extra_opsets.get("", 0)))]
    opsets += [helper.make_opsetid(d, v) for d, v in sorted(ctx.extra_opsets.items()) if d]
    model = helper.make_model(g, opset_imports=opsets, producer_name=producer)
    model.ir_version = min(model.ir_version, 10)
    return model


def save_onnx(model: onnx.ModelProto, path: str | os.PathLike) -> None:
    """Write an ONNX model atomically (models over 2 GB would need external data: refused)."""
    from irc.ir.weights_io import atomic_write_bytes

    data = model.SerializeToString()
    atomic_write_bytes(path, data)


