"""Running a graph on batches from inside a pass, without importing a backend.

Passes that need the values a graph computes (calibration, accuracy checks) ask for an
Evaluator by name; the backends provide them and are imported only when one is asked for:

    ev = get_evaluator("onnxruntime", threads=2)      # or "interpreter"
    arrays = ev.run(graph, {"x": batch}, [v1, v2])    # {v1: array, v2: array}, intermediates too
    ev.close()

An evaluator prepares the graph on first use (builds an interpreter plan, or exports the graph
and opens an onnxruntime session) and reuses that for later batches with the same graph and the
same requested values. Do not change the graph while using one evaluator; make a new one.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from irc.ir.graph import Graph
from irc.ir.value import Value

from .base import PassError
from .observers import finite_minmax

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

    def unsupported(self, graph: Graph) -> str | None:
        """Why this backend cannot run `graph` (None when it can)."""
        return None

    def close(self) -> None:
        """Release sessions and caches."""


EVALUATORS: dict[str, str | Callable[..., Evaluator]] = {
    "interpreter": "irc.backends.numpy_interp.evaluator:InterpreterEvaluator",
    "onnxruntime": "irc.backends.onnx.ort_runner:OrtEvaluator",
}
"""Evaluator name -> factory, or "module:attribute" of one (imported on first use)."""


def register_evaluator(name: str, factory: str | Callable[..., Evaluator]) -> None:
    EVALUATORS[name] = factory


def get_evaluator(name: str, **options: Any) -> Evaluator:
    """A new evaluator of the backend `name`, configured with `options`."""
    target = EVALUATORS.get(name)
    if target is None:
        raise PassError(f"unknown evaluator backend {name!r} (known: {', '.join(sorted(EVALUATORS))})")
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
    return target(**options)


def split_values(graph: Graph, values: Iterable[Value]) -> tuple[list[Value], list[Value]]:
    """(graph inputs, op results) among `values`, each in the given order."""
    inputs = {id(v) for v in graph.inputs}
    ins, outs = [], []
    for v in values:
        (ins if id(v) in inputs else outs).append(v)
    return ins, outs
