"""The numpy interpreter as an Evaluator (irc.ir.evaluator): exact semantics, op by op.

Requested values are handed out through an interpreter listener as each op finishes, so
`stream` holds only the tensors the interpreter itself still needs plus the one being observed.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.value import Value
from irc.ir.evaluator import Evaluator, Sink, split_values

from .interpreter import Interpreter, check_input, find_kernel


class InterpreterEvaluator(Evaluator):
    name = "interpreter"

    def __init__(self, **_ignored) -> None:
        # backend options meant for other evaluators (threads, ...) do not apply here
        self._interp: Interpreter | None = None
        self._graph_id: int | None = None
        self._sink: Sink | None = None
        self._wanted: dict[int, Value] = {}

    def run_op(self, op: Op, operands: Sequence[np.ndarray]) -> list[np.ndarray]:
        out = find_kernel(op)(op, *operands)
        return list(out) if isinstance(out, (tuple, list)) else [out]

    def _interpreter(self, graph: Graph) -> Interpreter:
        if self._interp is None or self._graph_id != id(graph):
            self._interp = Interpreter(graph, [self._listen])
            self._graph_id = id(graph)
        return self._interp

    def _listen(self, op: Op, outputs: list[np.ndarray]) -> None:
        if self._sink is None:
            return
        for r, a in zip(op.results, outputs):
            v = self._wanted.get(id(r))
            if v is not None:
                self._sink(v, a)

    def stream(self, graph: Graph, feeds: Mapping[str, np.ndarray], values: Sequence[Value], sink: Sink) -> None:
        interp = self._interpreter(graph)
        inputs, results = split_values(graph, values)
        for v in inputs:
            sink(v, check_input(v.io_name, v.type, feeds[v.io_name]))
        self._wanted = {id(v): v for v in results}
        self._sink = sink
        try:
            interp.run(feeds)
        finally:
            self._sink = None
            self._wanted = {}

    def run(self, graph: Graph, feeds: Mapping[str, np.ndarray], values: Sequence[Value]) -> dict[Value, np.ndarray]:
        out: dict[Value, np.ndarray] = {}

        def keep(v: Value, a: np.ndarray) -> None:
            out[v] = a

        self.stream(graph, feeds, values, keep)
        return out

    def close(self) -> None:
        self._interp = None
        self._graph_id = None
