"""Unary elementwise ops end to end (activations and math functions), and the erf kernel."""

import math

import numpy as np
import pytest

from irc.backends.numpy_interp import run_graph
from irc.backends.numpy_interp.kernels._erf import erf
from irc.ir import parse_text
from irc.ir.registry import VerifyError, get_op
from irc.ir.types import tensor

from .onnx_check import check_generic, check_node, make_node_model

RNG = np.random.default_rng(5)


def rand(*shape, scale=3.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def positive(*shape):
    return RNG.uniform(0.01, 10.0, shape).astype(np.float32)


# -- one-to-one activations ----------------------------------------------------------------------

UNARY_CASES = [
    ("Relu", {}, rand(2, 3, 4, 5)),
    ("LeakyRelu", {}, rand(2, 3, 4)),
    ("LeakyRelu", {"alpha": 0.3}, rand(2, 3, 4)),
    ("Sigmoid", {}, np.concatenate([rand(2, 8), np.array([[-100, -20, -0.0, 0, 20, 100, 88, -88]], np.float32)])),
    ("HardSigmoid", {}, rand(2, 10)),
    ("HardSigmoid", {"alpha": 0.5, "beta": 0.25}, rand(2, 10)),
    ("HardSwish", {}, rand(2, 10)),
    ("Tanh", {}, rand(2, 10)),
    ("Erf", {}, np.concatenate([rand(4, 64, scale=2.0), np.array([[0, -0.0, 1e-6, -1e-30, 5, -7, 1, -1] * 8], np.float32)])),
    ("Exp", {}, rand(3, 7)),
    ("Log", {}, positive(3, 7)),
    ("Sqrt", {}, positive(3, 7)),
    ("Reciprocal", {}, positive(3, 7)),
    ("Softplus", {}, np.concatenate([rand(2, 5), np.array([[-200, -30, 0, 30, 200]], np.float32)])),
    ("Elu", {}, rand(2, 10)),
    ("Elu", {"alpha": 0.5}, rand(2, 10)),
    ("Neg", {}, rand(2, 10)),
    ("Abs", {}, rand(2, 10)),
]


@pytest.mark.parametrize("op_type,attrs,x", UNARY_CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_unary_float32(op_type, attrs, x):
    g = check_node(op_type, {"x": x}, attrs, symbolic_batch=True)
    op = g.find("y0")
    assert op.result.type.shape[0] == "N" and op.result.type.element == "f32"
    for k, v in attrs.items():
        assert op.attr(k) == pytest.approx(v)
    assert set(op.attrs) == set(attrs)  # ONNX defaults are left out: one canonical form


def test_attributes_at_their_default_are_left_out():
    g = check_node("LeakyRelu", {"x": rand(2, 3)}, {"alpha": 0.01})
    assert g.find("y0").attrs == {}
    g = check_node("Gelu", {"x": rand(2, 3)}, {"approximate": "none"})
    assert g.find("y0").attrs == {}


@pytest.mark.parametrize("op_type,dtype", [("Relu", np.int8), ("Relu", np.int32), ("Neg", np.int32),
                                           ("Neg", np.int64), ("Abs", np.int8), ("Abs", np.int64)])
def test_unary_integers_keep_their_type(op_type, dtype):
    x = RNG.integers(-100, 100, (3, 5)).astype(dtype)
    g = check_node(op_type, {"x": x})
    assert g.outputs[0].type.element == np.dtype(dtype).name[0] + str(8 * np.dtype(dtype).itemsize)


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_unary_other_float_types(dtype):
    x = rand(4, 6).astype(dtype)
    for op_type in ("Sigmoid", "Tanh", "Relu", "Exp"):
        check_node(op_type, {"x": x}, rtol=1e-3 if dtype == np.float16 else 1e-7, atol=1e-3 if dtype == np.float16 else 1e-9)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("opset", [20, 21])
def test_gelu(approximate, opset):
    g = check_node("Gelu", {"x": rand(2, 3, 16)}, {"approximate": approximate}, opset=opset)
    assert g.find("y0").attr("approximate") == approximate


def test_prelu_per_channel_and_trailing_slope():
    x = rand(2, 3, 4, 4)
    g = check_node("PRelu", {"x": x, "slope": RNG.uniform(0, 1, (3, 1, 1)).astype(np.float32)},
                   constants=("slope",), symbolic_batch=True)
    assert g.find("y0").result.type.shape == ("N", 3, 4, 4)
    check_node("PRelu", {"x": x, "slope": RNG.uniform(0, 1, (4,)).astype(np.float32)})


# -- clip ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("lo,hi", [(0.0, 6.0), (-1.0, None), (None, 0.5), (None, None), (2.0, -1.0)])
def test_clip_constant_bounds(lo, hi):
    inputs = {"x": rand(2, 3, 5), "lo": None if lo is None else np.array(lo, np.float32),
              "hi": None if hi is None else np.array(hi, np.float32)}
    g = check_node("Clip", inputs, constants=("lo", "hi"), symbolic_batch=True)
    op = g.find("y0")
    assert op.attr("min") == lo and op.attr("max") == hi
    assert [o.name for o in op.operands] == ["x"]  # the bounds are attributes, not operands


def test_clip_int8():
    x = RNG.integers(-128, 128, (4, 8)).astype(np.int8)
    check_node("Clip", {"x": x, "lo": np.array(-5, np.int8), "hi": np.array(100, np.int8)},
               constants=("lo", "hi"))


def test_clip_integer_bounds_round_inward():
    g = parse_text("""func @main(%x: tensor<6xi32>) -> (tensor<6xi32>) {
  %y = clip(%x) {max=2.5, min=-1.5} : tensor<6xi32>
  return %y
}
""")
    y = run_graph(g, {"x": np.array([-3, -2, -1, 2, 3, 7], np.int32)})["y"]
    np.testing.assert_array_equal(y, np.array([-1, -1, -1, 2, 2, 2], np.int32))
    assert y.dtype == np.int32


def test_clip_bound_known_at_run_time_is_a_generic_op():
    feeds = {"x": rand(3), "lo": np.array(0, np.float32)}
    check_generic(make_node_model("Clip", feeds), feeds, "Clip", "(Clip): input 1 (min) is not a constant")


# -- the erf kernel ------------------------------------------------------------------------------

def test_erf_matches_math_erf_on_a_dense_grid():
    x = np.concatenate([np.linspace(-8, 8, 160001), np.geomspace(1e-30, 8, 4001),
                        -np.geomspace(1e-30, 8, 4001), [0.0, 1.0, -1.0, 6.0, -6.0]])
    ref = np.array([math.erf(v) for v in x])
    got = erf(x)
    assert got.dtype == np.float64
    rel = np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)
    assert rel.max() < 1e-12
    # float32: the float64 result rounded once, so it matches erf rounded to float32 exactly
    x32 = x.astype(np.float32)
    ref32 = np.array([math.erf(float(v)) for v in x32]).astype(np.float32)
    got32 = erf(x32)
    assert got32.dtype == np.float32
    np.testing.assert_array_equal(got32, ref32)


def test_erf_special_values():
    x = np.array([np.inf, -np.inf, np.nan, -0.0], np.float32)
    y = erf(x)
    assert y[0] == 1 and y[1] == -1 and np.isnan(y[2]) and y[3] == 0 and np.signbit(y[3])


# -- verifier ------------------------------------------------------------------------------------

def test_float_only_activations_reject_integers():
    with pytest.raises(VerifyError, match=r"sigmoid takes float operands, got tensor<3xi32>"):
        get_op("sigmoid").infer_types([tensor([3], "i32")], {})


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(VerifyError, match=r"gelu approximate must be \"none\" or \"tanh\", got 'fast'"):
        get_op("gelu").infer_types([tensor([3])], {"approximate": "fast"})


def test_prelu_slope_must_broadcast_to_x():
    with pytest.raises(VerifyError, match=r"prelu slope tensor<3xf32> does not broadcast to x tensor<2x4xf32>"):
        get_op("prelu").infer_types([tensor([2, 4]), tensor([3])], {})
    with pytest.raises(VerifyError, match="does not broadcast"):  # x never stretches to the slope
        get_op("prelu").infer_types([tensor([4]), tensor([2, 4])], {})
    assert get_op("prelu").infer_types([tensor(["N", 3, 8]), tensor([3, 1])], {}) == [tensor(["N", 3, 8])]
