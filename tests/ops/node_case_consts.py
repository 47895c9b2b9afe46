"""onnx's node cases rerun with their shape-like inputs as constants.

Many node cases feed values that irc needs at import (Pad's pads, Resize's scales/sizes/roi, the
reduction axes) as graph inputs; the backend suite runs them by specializing on those values
(irc.onnx_backend). Here, to check export and onnxruntime on the same cases too, a case is generated
by its own module of onnx's test package (onnx.backend.test.case.node.<op>), and every graph input after
the data tensor becomes an initializer holding the case's own value: a model irc can import,
checked against onnxruntime (check_model) and against the output the case expects.
"""

from __future__ import annotations

import importlib
from typing import Iterable

import numpy as np
import onnx
from onnx import numpy_helper


def node_cases(modules: Iterable[str]) -> dict:
    """name -> onnx TestCase of the node cases that the given case modules define."""
    package = importlib.import_module("onnx.backend.test.case.node")
    for m in modules:  # importing a case module runs its generators once per process
        importlib.import_module(f"{package.__name__}.{m}")
    cases = getattr(package, "_NodeTestCases", None)
    if cases is None:  # another onnx layout: generate every case (slower)
        from onnx.backend.test.loader import load_model_tests

        cases = load_model_tests(kind="node")
    return {c.name: c for c in cases}


def case_names(modules: Iterable[str], prefixes: Iterable[str]) -> list[str]:
    """Names of the cases of `modules` starting with one of `prefixes` (no _expanded variants)."""
    prefixes = tuple(prefixes)
    return sorted(n for n in node_cases(modules)
                  if n.startswith(prefixes) and not n.endswith("_expanded") and "_expanded_" not in n)


def load_with_constants(modules: Iterable[str], name: str, n_data: int = 1):
    """(model, feeds, expected outputs) of case `name`, inputs after the first `n_data` made constant."""
    case = node_cases(modules)[name]
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, expected = case.data_sets[0]
    g = model.graph
    feeds = {}
    for i, (vi, arr) in enumerate(zip(list(g.input), inputs)):
        if i < n_data:
            feeds[vi.name] = np.asarray(arr)
        else:
            g.initializer.append(numpy_helper.from_array(np.asarray(arr), vi.name))
            g.input.remove(vi)
    return model, feeds, [np.asarray(e) for e in expected]
