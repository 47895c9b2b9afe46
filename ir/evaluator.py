"""Computing with a graph without importing a backend: the interface backends implement.

Passes that need the values a graph computes (folding, calibration, accuracy checks) ask for an
Evaluator by name; the backends register theirs here by "module:attribute" and are imported only
when one is asked for, so passes and the IR never import a backend:

    ev = get_evaluator("onnxruntime", threads=2)      # or "interpreter"
    arrays = ev.run(graph, {"x": batch}, [v1, v2])    # {v1: array, v2: array}, intermediates too
    ev.close()

An evaluator prepares the graph on first use (builds an interpreter plan, or exports the graph
and opens an onnxruntime session) and reuses that for later batches with the same graph and the
same requested values. Do not change the graph while using one evaluator; make a new one.

`evaluate_op(op, arrays)` runs one op on concrete arrays with the interpreter's kernels: the one
source of op semantics for passes that compute (fold, sensitivity).
"""

from __future__ import annotations

import importlib
import math
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .diagnostics import IRError
from .graph import Graph
from .op import Op
from .value import Value

Sink = Callable[[Value, np.ndarray], None]


class Evaluator:
    """Computes values of a graph for a batch of inputs. Subclasses implement `run`."""

    name = ""

    def run(self, graph: Graph, feeds: Mapping[str, np.ndarray], values: Sequence[Value]) -> dict[Value, np.ndarray]:
        """The arrays of `values` (graph inputs or op results) for the inputs `feeds`."""
        raise NotImplementedError

    def stream(self, graph: Graph, feeds: Mapping[str, np.ndarray], values: Sequence[Value], sink: Sink) -> None:
        """Call sink(value, array) for each of `values`; a backend that computes op by op calls
        it as each value appears, so that not all of them are held at once."""
        arrays = self.run(graph, feeds, values)
        for v in values:
            sink(v, arrays.pop(v))

    def minmax(self, graph: Graph, feeds: Mapping[str, np.ndarray],
               values: Sequence[Value]) -> dict[Value, tuple[float, float, int]]:
        """Per value: (min, max, number of non-finite elements) over its finite elements (+inf,
        -inf when it has none). Backends may reduce inside the model instead of returning arrays."""
        out: dict[Value, tuple[float, float, int]] = {}

        def sink(v: Value, a: np.ndarray) -> None:
            out[v] = finite_minmax(a)

        self.stream(graph, feeds, values, sink)
        return out

    def run_op(self, op: Op, operands: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run the one op `op` on concrete operand arrays; one array per result."""
        raise NotImplementedError(f"the {self.name or type(self).__name__} evaluator runs whole graphs only")

    def unsupported(self, graph: Graph) -> str | None:
        """Why this backend cannot run `graph` (None when it can)."""
        return None

    def close(self) -> None:
        """Release sessions and caches."""


EVALUATORS: dict[str, str | Callable[..., Evaluator]] = {
    "interpreter": "irc.backends.numpy_interp.evaluator:InterpreterEvaluator",
    "onnxruntime": "irc.backends.onnx.ort_runner:OrtEvaluator",
    "onnxruntime-qdq": "irc.backends.onnx.qdq_runner:QDQEvaluator",
}
"""Evaluator name -> factory, or "module:attribute" of one (imported on first use)."""


def register_evaluator(name: str, factory: str | Callable[..., Evaluator]) -> None:
    EVALUATORS[name] = factory


def get_evaluator(name: str, **options: Any) -> Evaluator:
    """A new evaluator of the backend `name`, configured with `options`."""
    target = EVALUATORS.get(name)
    if target is None:
        raise IRError(f"unknown evaluator backend {name!r} (known: {', '.join(sorted(EVALUATORS))})")
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
    return target(**options)


def split_values(graph: Graph, values: Iterable[Value]) -> tuple[list[Value], list[Value]]:
    """(graph inputs, op results) among `values`, each in the given order."""
    inputs = {id(v) for v in graph.inputs}
    ins: list[Value] = []
    outs: list[Value] = []
    for v in values:
        (ins if id(v) in inputs else outs).append(v)
    return ins, outs


_op_runner: Evaluator | None = None


def evaluate_op(op: Op, operands: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run `op` on concrete operand arrays with the interpreter's kernel; one array per result."""
    global _op_runner
    if _op_runner is None:
        _op_runner = get_evaluator("interpreter")
    return _op_runner.run_op(op, operands)


def finite_minmax(a: np.ndarray) -> tuple[float, float, int]:
    """(min, max, number of non-finite values) over the finite values of `a`.

    Without any finite value (an empty or all-NaN array) min is +inf and max is -inf.
    """
    a = np.asarray(a)
    if a.size == 0:
        return math.inf, -math.inf, 0
    if a.dtype.kind not in "f":
        return float(a.min()), float(a.max()), 0
    mn, mx = a.min(), a.max()
    if np.isfinite(mn) and np.isfinite(mx):
        return float(mn), float(mx), 0
    # NaN propagates through min/max and infinities win them: look at the finite values only
    finite = np.isfinite(a)
    n_bad = int(a.size - np.count_nonzero(finite))
    if n_bad == a.size:
        return math.inf, -math.inf, n_bad
    kept = a[finite]
    return float(kept.min()), float(kept.max()), n_bad
