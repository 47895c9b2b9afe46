"""onnx's node cases of the math and index ops (ir/ops/math.py, ir/ops/index.py) run through
declared IR ops and irc's kernels, not as generic ops.

The backend suite (test_node_cases.py) runs every case; this checks which form each case of
these ops takes: declared, unless a parameter irc keeps as an attribute (TopK's k, CumSum's axis,
OneHot's depth, Trilu's k) is fed as a graph input, which only a generic op can take. Those cases
run through the declared ops too, with the parameter made a constant, in tests/ops/test_index.py.
"""

from __future__ import annotations

import pytest
from onnx.backend.test.loader import load_model_tests

from irc.backends.onnx import import_onnx
from irc.ir import IRError
from irc.ir.generic import is_generic_name

from .test_node_cases import SELECTED

OP_TYPES = {
    "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "IsNaN", "IsInf", "Mod", "Xor", "BitwiseAnd",
    "BitwiseOr", "BitwiseXor", "BitwiseNot", "Range", "CumSum", "NonZero", "TopK", "GatherElements",
    "GatherND", "ScatterND", "ScatterElements", "Scatter", "OneHot", "Trilu",
}
PARAMETER_INPUT = {"TopK": (1, "k"), "CumSum": (1, "axis"), "OneHot": (1, "depth"), "Trilu": (1, "k")}
STAYS_GENERIC: dict[str, str] = {}
REFUSED = {
    # Range on float16 is defined from opset 27 only; irc reads and writes opset 21, and onnx's
    # version converter cannot bring the node down
    "test_range_float16_type_positive_delta": "cannot bring the model from opset 27 down to 21",
}


def _cases() -> dict:
    out = {}
    for case in load_model_tests(kind="node"):
        nodes = case.model.graph.node
        if len(nodes) == 1 and nodes[0].op_type in OP_TYPES and "bfloat16" not in case.name:
            out[case.name] = case
    return out


CASES = _cases()


def test_every_op_has_node_cases_and_the_backend_suite_runs_them():
    ops = {c.model.graph.node[0].op_type for c in CASES.values()}
    assert ops == OP_TYPES
    assert set(CASES) <= set(SELECTED)


@pytest.mark.parametrize("name", sorted(CASES))
def test_node_case_imports_as_declared_ops(name):
    case = CASES[name]
    node = case.model.graph.node[0]
    if name in REFUSED:
        with pytest.raises(IRError, match=REFUSED[name]):
            import_onnx(case.model)
        return
    graph = import_onnx(case.model)
    generic = [op.name for op in graph.walk() if is_generic_name(op.name)]
    fed = {vi.name for vi in case.model.graph.input}
    param = PARAMETER_INPUT.get(node.op_type)
    if param is not None and len(node.input) > param[0] and node.input[param[0]] in fed:
        why = f"input {param[0]} ({param[1]}) is not a constant"
    else:
        why = STAYS_GENERIC.get(name)
    if why is None:
        assert generic == [], graph.import_notes
    else:
        assert generic == [f"onnx.{node.op_type}"]
        assert any(why in note for note in graph.import_notes), graph.import_notes
