"""onnxruntime as an Evaluator for quantized graphs: write the QDQ model, run it.

    ev = get_evaluator("onnxruntime-qdq")            # registered in irc.ir.evaluator
    outs = ev.run(graph, {"x": batch}, graph.outputs)
    kinds = ev.kernels(graph)                        # {op name: onnxruntime node type}

A graph with quantized ops is written by the onnx-qdq backend (`export_qdq`), a float one as fp32
ONNX (the same call), and one onnxruntime session serves every batch of that graph — this is the
fast way to measure a candidate model's accuracy, and it measures the model exactly as it will
be shipped. Requested values must be graph outputs or float values: the emitted model returns
real numbers, while the interpreter's view of a quantized value is its stored integers.

`level` is onnxruntime's graph optimization level: "extended" (the QDQ fusions into int8
kernels, the default), "all", "basic" or "disabled" (Q and DQ run as plain casts, so a float
graph with quantize/dequantize pairs computes exactly the fake-quantized values).

`kernels(graph)` tells which kernel onnxruntime runs for each op of the graph after its
optimizations at level EXTENDED: "QLinearConv", "QGemm", ... for ops that became int8 kernels,
"Conv", "Gemm", ... for those that stayed float.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import onnx

from irc.ir.diagnostics import IRError
from irc.ir.evaluator import Evaluator, split_values
from irc.ir.graph import Graph
from irc.ir.registry import is_bookkeeping
from irc.ir.value import Value
from .ort_session import LEVELS, ort_session



def export_for_run(graph: Graph, values: Sequence[Value]) -> onnx.ModelProto:
    """The graph as an ONNX QDQ model whose outputs are `values` (float values or graph outputs)."""
    from .qdq import export_qdq

    outputs = graph.outputs
    if [id(v) for v in values] == [id(v) for v in outputs]:
        return export_qdq(graph, warn=lambda _msg: None)
    quantized = [v.name for v in values if v.type.is_quantized and all(v is not o for o in outputs)]
    if quantized:
        raise IRError(f"onnxruntime-qdq evaluates float values and graph outputs only, not the quantized "
                      f"value(s) {', '.join(map(str, quantized))}")
    graph.set_outputs(list(values))
    try:
        return export_qdq(graph, warn=lambda _msg: None)
    finally:
        graph.set_outputs(outputs)


class QDQEvaluator(Evaluator):
    """Runs float or quantized graphs with onnxruntime's CPU provider."""

    name = "onnxruntime-qdq"

    def __init__(self, threads: int = 0, level: str = "extended", **_ignored) -> None:
        if level not in LEVELS:
            raise IRError(f"unknown onnxruntime optimization level {level!r} (known: {', '.join(LEVELS)})")
        self.threads = threads
        self.level = level
        self._sessions: dict[tuple, tuple] = {}

    def unsupported(self, graph: Graph) -> str | None:
        from .registry import missing_exporters

        missing = missing_exporters(graph, ("const", "quantize", "dequantize"))
        return f"no ONNX export for {', '.join(missing)}" if missing else None

    def _session(self, graph: Graph, values: Sequence[Value]):
        key = (id(graph), tuple(id(v) for v in values))
        found = self._sessions.get(key)
        if found is None:
            model = export_for_run(graph, values)
            session = ort_session(model, self.threads, self.level, "the emitted model")
            names = [o.name for o in session.get_outputs()]
            inputs = {i.name for i in session.get_inputs()}
            self._sessions[key] = found = (session, names, inputs)
        return found

    def run(self, graph: Graph, feeds: Mapping[str, np.ndarray], values: Sequence[Value]) -> dict[Value, np.ndarray]:
        inputs, results = split_values(graph, values)
        out: dict[Value, np.ndarray] = {v: np.asarray(feeds[v.io_name]) for v in inputs}
        if results:
            session, names, input_names = self._session(graph, results)
            ort_feeds = {v.io_name: np.ascontiguousarray(feeds[v.io_name], dtype=v.type.dtype)
                         for v in graph.inputs if v.name in input_names}
            try:
                arrays = session.run(names, ort_feeds)
            except Exception as e:
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise IRError(f"onnxruntime failed to run the emitted model: {msg}") from None
            out.update(zip(results, arrays))
        return out

    def kernels(self, graph: Graph) -> dict[str, str]:
        """{op name (first result): node type onnxruntime runs for it at level EXTENDED}."""
        from .ort_kernels import optimized_model

        model = optimized_model(export_for_run(graph, graph.outputs), "extended")
        return kernel_map(graph, model)

    def close(self) -> None:
        self._sessions.clear()


def kernel_map(graph: Graph, optimized: onnx.ModelProto) -> dict[str, str]:
    """Match the nodes of onnxruntime's optimized model to the graph's ops.

    The onnx-qdq backend names an op's node `n_<its output tensor>`: `<value>_float` for an op
    with a quantized result (a Q node follows it), `<value>` otherwise; onnxruntime keeps that
    name on the int8 kernel that replaces the DQ/op/Q group, and its layout passes add suffixes
    such as `_nchwc`. Ops with no node found are left out.
    """
    labels = {op.label for op in graph.ops if not is_bookkeeping(op.name)}
    found: dict[str, str] = {}
    for node in optimized.graph.node:
        keys = []
        name = node.name[2:] if node.name.startswith("n_") else node.name
        for suffix in ("_nchwc", "_float"):
            if name.endswith(suffix):
                name = name[:-len(suffix)]
        keys.append(name)
        keys.extend(o[:-len("_float")] if o.endswith("_float") else o for o in node.output)
        for k in keys:
            if k in labels and node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
                found.setdefault(k, node.op_type)
                break
    return found
