"""onnxruntime as an Evaluator (irc.ir.evaluator): the fast way to compute a graph's values.

The fp32 graph is exported with the requested op results as its outputs (graph inputs are
returned from the feeds), and one session serves every batch. `minmax` goes further: it adds a
ReduceMin and a ReduceMax node per requested value, so only two scalars per tensor leave
onnxruntime instead of every activation (the reductions run inside onnxruntime, multithreaded).
A tensor whose reduced min or max is not finite is fetched whole for that batch and reduced
over its finite elements, as the numpy path does.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import onnx
from onnx import helper

from irc.ir.diagnostics import IRError
from irc.ir.graph import Graph
from irc.ir.value import Value
from irc.ir.evaluator import Evaluator, finite_minmax, split_values

from .exporter import export_onnx
from .ort_session import ort_session


def export_with_outputs(graph: Graph, values: Sequence[Value]) -> onnx.ModelProto:
    """The graph as ONNX whose outputs are exactly `values` (op results), in that order."""
    saved = graph.outputs
    graph.set_outputs(list(values))
    try:
        return export_onnx(graph)
    finally:
        graph.set_outputs(saved)


def add_minmax_outputs(model: onnx.ModelProto) -> None:
    """Replace every output t of `model` by two scalar outputs ReduceMin(t), ReduceMax(t)."""
    g = model.graph
    outputs = list(g.output)
    del g.output[:]
    for vi in outputs:
        elem = vi.type.tensor_type.elem_type
        for op_type, suffix in (("ReduceMin", "min"), ("ReduceMax", "max")):
            out = f"{vi.name}__calib_{suffix}"
            g.node.append(helper.make_node(op_type, [vi.name], [out], name=out, keepdims=0))
            g.output.append(helper.make_tensor_value_info(out, elem, []))


class OrtEvaluator(Evaluator):
    """Evaluates with onnxruntime's CPU provider; `threads` = intra-op threads (0: its default)."""

    name = "onnxruntime"

    def __init__(self, threads: int = 0, **_ignored) -> None:
        self.threads = threads
        self._sessions: dict[tuple, tuple] = {}

    def unsupported(self, graph: Graph) -> str | None:
        from .registry import missing_exporters

        missing = missing_exporters(graph)
        return f"no ONNX export for {', '.join(missing)}" if missing else None

    def _session(self, graph: Graph, values: Sequence[Value], reduce: bool):
        key = (id(graph), tuple(id(v) for v in values), reduce)
        found = self._sessions.get(key)
        if found is not None:
            return found
        model = export_with_outputs(graph, values)
        if reduce:
            add_minmax_outputs(model)
        session = ort_session(model, self.threads)
        names = [o.name for o in session.get_outputs()]
        input_names = {i.name for i in session.get_inputs()}
        self._sessions[key] = found = (session, names, input_names)
        return found

    def _feeds(self, graph: Graph, feeds: Mapping[str, np.ndarray], input_names: set[str]) -> dict[str, np.ndarray]:
        # onnxruntime rejects feeds the model does not declare; pass exactly its inputs
        return {v.name: np.ascontiguousarray(feeds[v.name], dtype=v.type.dtype)
                for v in graph.inputs if v.name in input_names}

    def _run(self, session, names, feeds):
        try:
            return session.run(names, feeds)
        except Exception as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise IRError(f"onnxruntime failed to run the graph: {msg}") from None

    def run(self, graph: Graph, feeds: Mapping[str, np.ndarray], values: Sequence[Value]) -> dict[Value, np.ndarray]:
        inputs, results = split_values(graph, values)
        out: dict[Value, np.ndarray] = {v: np.asarray(feeds[v.io_name], dtype=v.type.dtype) for v in inputs}
        if results:
            session, names, input_names = self._session(graph, results, reduce=False)
            arrays = self._run(session, names, self._feeds(graph, feeds, input_names))
            out.update(zip(results, arrays))
        return out

    def minmax(self, graph: Graph, feeds: Mapping[str, np.ndarray],
               values: Sequence[Value]) -> dict[Value, tuple[float, float, int]]:
        inputs, results = split_values(graph, values)
        out: dict[Value, tuple[float, float, int]] = {
            v: finite_minmax(np.asarray(feeds[v.io_name])) for v in inputs}
        if not results:
            return out
        session, names, input_names = self._session(graph, results, reduce=True)
        ort_feeds = self._feeds(graph, feeds, input_names)
        arrays = self._run(session, names, ort_feeds)
        again = []
        for i, v in enumerate(results):
            mn, mx = float(arrays[2 * i]), float(arrays[2 * i + 1])
            if np.isfinite(mn) and np.isfinite(mx):
                out[v] = (mn, mx, 0)
            else:
                again.append(v)
        if again:
            full = self.run(graph, feeds, again)
            for v in again:
                out[v] = finite_minmax(full.pop(v))
        return out

    def close(self) -> None:
        self._sessions.clear()
