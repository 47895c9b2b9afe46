"""Reductions and ArgMax/ArgMin end to end: import, interpreter vs onnxruntime, text, export."""

import numpy as np
import pytest

from irc.backends.numpy_interp import run_graph
from irc.backends.onnx import import_onnx
from irc.ir.registry import VerifyError, get_op
from irc.ir.types import tensor

from .node_case_consts import case_names, load_with_constants
from .onnx_check import assert_close, check_generic, check_model, check_node, make_node_model

REDUCE_OPS = {
    "ReduceSum": "reduce_sum", "ReduceMean": "reduce_mean", "ReduceMax": "reduce_max", "ReduceMin": "reduce_min",
    "ReduceProd": "reduce_prod", "ReduceL1": "reduce_l1", "ReduceL2": "reduce_l2",
    "ReduceSumSquare": "reduce_sum_square", "ReduceLogSum": "reduce_log_sum", "ReduceLogSumExp": "reduce_log_sum_exp",
}


def data(seed, *shape, dtype=np.float32, positive=False):
    x = np.random.default_rng(seed).standard_normal(shape)
    return (np.abs(x) + 0.1 if positive else x).astype(dtype)


def i64(*v):
    return np.array(v, dtype=np.int64)


def reduce(op_type, x, axes=None, symbolic_batch=False, rtol=1e-5, atol=1e-6, **attrs):
    inputs = {"x": x} if axes is None else {"x": x, "axes": i64(*axes)}
    return check_node(op_type, inputs, attrs, constants=("axes",), symbolic_batch=symbolic_batch,
                      rtol=rtol, atol=atol)


@pytest.mark.parametrize("op_type", sorted(REDUCE_OPS))
@pytest.mark.parametrize("axes,keepdims", [((1, -1), 1), ((0, 2), 0), (None, 1), (None, 0)])
def test_reductions_float32(op_type, axes, keepdims):
    # positive data keeps ReduceLogSum finite
    g = reduce(op_type, data(1, 3, 4, 5, positive=op_type == "ReduceLogSum"), axes, keepdims=keepdims)
    op = g.find("y0")
    assert op.name == REDUCE_OPS[op_type]
    want = {(1, -1): (1, 2), (0, 2): (0, 2), None: (0, 1, 2)}[axes]
    assert op.attrs["axes"] == want and op.attrs.get("keepdims", 1) == keepdims


@pytest.mark.parametrize("op_type", sorted(REDUCE_OPS))
def test_reductions_noop_with_empty_axes(op_type):
    # reducing no axis applies the per-element part only: x^2, |x|, log x, ... (as onnxruntime does)
    g = reduce(op_type, data(2, 2, 3, positive=op_type == "ReduceLogSum"), noop_with_empty_axes=1)
    assert g.find("y0").attrs == {"axes": ()}


@pytest.mark.parametrize("op_type", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                                     "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_reductions_integers_truncate_like_onnxruntime(op_type, dtype):
    x = np.array([[1, -2, 3, 4], [5, 6, -7, 1], [2, 2, 2, 3]], dtype=dtype)
    reduce(op_type, x, (1,), keepdims=0)


def test_reductions_half_precision_and_symbolic_batch():
    for op_type in ("ReduceMean", "ReduceL2", "ReduceLogSumExp"):
        g = reduce(op_type, data(3, 2, 8, 6, dtype=np.float16), (2,), symbolic_batch=True, rtol=2e-3, atol=1e-3)
        assert str(g.find("y0").result.type) == "tensor<[N]x8x1xf16>"


def test_reduce_max_min_bool_and_int8():
    b = np.array([[True, False, False], [False, False, False]])
    reduce("ReduceMax", b, (1,))
    reduce("ReduceMin", b, (0,), keepdims=0)
    reduce("ReduceMax", np.arange(-6, 6, dtype=np.int8).reshape(3, 4), (0,))


def test_reduce_log_sum_exp_is_stable_for_large_values():
    x = np.array([[1000.0, 999.0, -np.inf], [-1e4, -1e4 + 1, -1e4 + 2]], dtype=np.float32)
    reduce("ReduceLogSumExp", x, (1,))


def test_reduce_empty_set():
    x = np.zeros((2, 0, 3), dtype=np.float32)
    for op_type, want in (("ReduceSum", 0.0), ("ReduceProd", 1.0), ("ReduceMax", -np.inf), ("ReduceMin", np.inf),
                          ("ReduceL2", 0.0), ("ReduceLogSumExp", -np.inf)):
        g = reduce(op_type, x, (1,))
        np.testing.assert_array_equal(run_graph(g, {"x": x})["y0"], np.full((2, 1, 3), want, np.float32))


def test_reduce_opset13_axes_attribute_form():
    # before opset 18 ReduceMean held axes as an attribute; the version converter moves it to an input
    g = check_node("ReduceMean", {"x": data(4, 2, 3, 4)}, {"axes": [-2], "keepdims": 0}, opset=13)
    assert g.find("y0").attrs == {"axes": (1,), "keepdims": 0}


def test_reduce_axes_known_at_run_time_are_a_generic_op():
    feeds = {"x": data(5, 2, 3), "axes": i64(1)}
    check_generic(make_node_model("ReduceSum", feeds), feeds, "ReduceSum", "input 1 (axes) is not a constant")


def test_reduce_verifier_errors():
    rs = get_op("reduce_sum")
    with pytest.raises(VerifyError, match="distinct, ascending and within rank 2"):
        rs.infer_types([tensor((2, 3))], {"axes": (2,)})
    with pytest.raises(VerifyError, match="distinct, ascending"):
        rs.infer_types([tensor((2, 3))], {"axes": (1, 0)})
    with pytest.raises(VerifyError, match="does not take bool"):
        rs.infer_types([tensor((2, 3), "bool")], {"axes": (1,)})
    assert str(get_op("reduce_max").infer_types([tensor(("N", 3), "bool")], {"axes": (1,)})[0]) == "tensor<[N]x1xbool>"


# -- ArgMax / ArgMin ------------------------------------------------------------------------------

@pytest.mark.parametrize("op_type", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("attrs", [{}, {"axis": -1, "keepdims": 0}, {"axis": 1, "select_last_index": 1}])
def test_arg_extremes_with_ties(op_type, attrs):
    # small integers repeat, so first/last index selection matters
    x = np.random.default_rng(6).integers(-2, 3, size=(3, 4, 5)).astype(np.float32)
    g = check_node(op_type, {"x": x}, attrs, symbolic_batch=True)
    assert g.find("y0").result.type.element == "i64"


def test_argmax_integer_input_and_verifier():
    check_node("ArgMax", {"x": np.array([[3, 9, 9], [1, 0, 1]], dtype=np.int32)}, {"axis": 1, "select_last_index": 1})
    with pytest.raises(VerifyError, match="axis 2 must be non-negative and within rank 2"):
        get_op("argmax").infer_types([tensor((2, 3))], {"axis": 2})


# -- onnx's Reduce* node cases, their graph-input axes made constant ------------------------------

CASE_MODULES = ["reducesum", "reducemean", "reducemax", "reducemin", "reduceprod", "reducel1", "reducel2",
                "reducesumsquare", "reduce_log_sum", "reduce_log_sum_exp"]
# onnxruntime refuses ReduceMax over an empty bool set; the case's expected output (False) is checked
ORT_REFUSES = {"test_reduce_max_empty_set_bool"}


@pytest.mark.parametrize("name", case_names(CASE_MODULES, ["test_reduce_"]))
def test_onnx_node_case_with_constant_axes(name):
    model, feeds, expected = load_with_constants(CASE_MODULES, name)
    if name in ORT_REFUSES:
        g = import_onnx(model)
    else:
        g = check_model(model, feeds)
    got = run_graph(g, feeds)[g.outputs[0].name]
    assert_close(got, expected[0], 1e-4, 1e-6, f"{name} vs the case's expected output")
