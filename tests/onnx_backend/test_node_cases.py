"""onnx's backend test suite (the node cases shipped in the onnx wheel) run against irc.onnx_backend.

Every node case runs: ops with an irc importer become declared IR ops (run by irc's kernels),
the others generic ops (run as one-node models). Known gaps are skipped with their reason
(known_skips.py).
"""

from __future__ import annotations

import re
import unittest

import onnx.backend.test
from onnx.backend.test.loader import load_model_tests

import irc.onnx_backend
from irc.backends.onnx.importer import ALIAS_OPS

from .known_skips import KNOWN_SKIPS

ALWAYS_OK = set(ALIAS_OPS) | {"Constant"}


def _op_types(model) -> set[str]:
    ops = set()
    for n in model.graph.node:
        ops.add(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}:{n.op_type}")
    return ops


def selected_cases() -> list[str]:
    return sorted(case.name for case in load_model_tests(kind="node") if _op_types(case.model))


SELECTED = selected_cases()

_backend_test = onnx.backend.test.BackendTest(irc.onnx_backend, __name__)
for _name in SELECTED:
    _backend_test.include(f"^{re.escape(_name)}_cpu$")



def _node_test_class():
    """The node-case test class, reduced to the selected cases, known gaps marked skipped."""
    wanted = {f"{n}_cpu" for n in SELECTED}
    cls = _backend_test.test_cases["OnnxBackendNodeModelTest"]
    for attr in list(vars(cls)):
        if attr.startswith("test_") and attr not in wanted:
            delattr(cls, attr)
    for attr in list(vars(cls)):
        for pattern, reason in KNOWN_SKIPS.items():
            if attr.startswith("test_") and re.search(pattern, attr[: -len("_cpu")]):
                setattr(cls, attr, unittest.skip(reason)(getattr(cls, attr)))
    return cls


OnnxBackendNodeModelTest = _node_test_class()
