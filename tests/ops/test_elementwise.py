"""Broadcasting elementwise ops end to end: arithmetic, variadic, comparison, logic, where, cast."""

import numpy as np
import onnx
import pytest

from irc.backends.numpy_interp import run_graph
from irc.backends.onnx import import_onnx
from irc.ir import IRError, parse_text
from irc.ir.registry import VerifyError, get_op
from irc.ir.types import tensor

from .onnx_check import check_model, check_node, make_node_model

RNG = np.random.default_rng(7)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def ints(*shape, dtype=np.int32, lo=-50, hi=50):
    return RNG.integers(lo, hi, shape).astype(dtype)


# -- arithmetic ----------------------------------------------------------------------------------

@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul", "Div"])
def test_arithmetic_broadcasting_symbolic_batch(op_type):
    g = check_node(op_type, {"a": rand(2, 3, 4, 5), "b": rand(2, 3, 1, 5)}, symbolic_batch=True)
    assert g.find("y0").result.type == tensor(["N", 3, 4, 5])


@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul", "Div"])
def test_arithmetic_with_a_constant_operand_stays_float32(op_type):
    # a scalar constant on either side: numpy must not widen the float32 result
    check_node(op_type, {"a": np.array(0.1, np.float32), "b": rand(3, 4)}, constants=("a",))
    check_node(op_type, {"a": rand(1, 4), "b": rand(3, 1)})


@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.uint8])
def test_integer_arithmetic_keeps_type_and_wraps(op_type, dtype):
    info = np.iinfo(dtype)
    a = RNG.integers(info.min, info.max, (4, 6), endpoint=True, dtype=dtype)
    b = RNG.integers(info.min, info.max, (6,), endpoint=True, dtype=dtype)
    g = check_node(op_type, {"a": a, "b": b})
    assert g.outputs[0].type.dtype == dtype


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int8])
def test_integer_division_truncates_toward_zero(dtype):
    a = np.array([7, -7, 7, -7, 6, -6, 0, 1, -1], dtype)
    b = np.array([2, 2, -2, -2, 3, -3, 5, -5, 5], dtype)
    g = check_node("Div", {"a": a, "b": b})
    y = run_graph(g, {"a": a, "b": b})["y0"]
    np.testing.assert_array_equal(y, np.array([3, -3, -3, 3, 2, 2, 0, 0, 0], dtype))


def test_unsigned_division():
    check_node("Div", {"a": ints(3, 4, dtype=np.uint8, lo=0, hi=255),
                       "b": ints(4, dtype=np.uint8, lo=1, hi=20)})


@pytest.mark.parametrize("xt,yt", [(np.float32, np.float32), (np.float32, np.int64), (np.float32, np.int32),
                                   (np.int64, np.float32), (np.int32, np.float32), (np.int64, np.int64),
                                   (np.int32, np.int32)])
def test_pow_mixed_types(xt, yt):
    x = RNG.uniform(-3, 3, (3, 4)).astype(xt) if np.dtype(xt).kind == "f" else ints(3, 4, dtype=xt, lo=-5, hi=6)
    y = ints(4, dtype=yt, lo=0, hi=4) if np.dtype(yt).kind in "iu" else RNG.uniform(0, 3, (4,)).round().astype(yt)
    g = check_node("Pow", {"x": x, "y": y})
    assert g.outputs[0].type.dtype == xt


def test_pow_fractional_exponent_of_integer_truncates():
    x = np.array([2, 3, -8, 10], np.int64)
    y = np.array([0.5, 1.5, 1.0, -1.0], np.float32)
    check_node("Pow", {"x": x, "y": y})


def test_integer_pow_with_negative_exponent():
    g = parse_text("""func @main(%x: tensor<5xi32>, %y: tensor<5xi32>) -> (tensor<5xi32>) {
  %z = pow(%x, %y) : tensor<5xi32>
  return %z
}
""")
    z = run_graph(g, {"x": np.array([1, -1, -1, 2, 3], np.int32), "y": np.array([-3, -3, -2, -1, 2], np.int32)})["z"]
    np.testing.assert_array_equal(z, np.array([1, -1, 1, 0, 9], np.int32))
    assert z.dtype == np.int32


# -- variadic ------------------------------------------------------------------------------------

@pytest.mark.parametrize("op_type", ["Max", "Min", "Sum", "Mean"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_variadic(op_type, n):
    shapes = [(2, 3, 4), (3, 1), (4,)][:n]
    g = check_node(op_type, {f"x{i}": rand(*s) for i, s in enumerate(shapes)})
    assert len(g.find("y0").operands) == n


@pytest.mark.parametrize("op_type", ["Max", "Min"])
@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint8])
def test_max_min_integers(op_type, dtype):
    check_node(op_type, {"a": ints(3, 4, dtype=dtype, lo=0, hi=100), "b": ints(4, dtype=dtype, lo=0, hi=100)})


# -- comparison and logic ------------------------------------------------------------------------

@pytest.mark.parametrize("op_type", ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_comparisons_give_bool(op_type, dtype):
    a = ints(3, 4, lo=-3, hi=3).astype(dtype)
    b = ints(4, lo=-3, hi=3).astype(dtype)
    g = check_node(op_type, {"a": a, "b": b})
    assert g.outputs[0].type == tensor([3, 4], "bool")


def test_equal_on_bool():
    check_node("Equal", {"a": RNG.random((2, 3)) < 0.5, "b": RNG.random((3,)) < 0.5})


@pytest.mark.parametrize("op_type", ["And", "Or"])
def test_logic_broadcasting(op_type):
    check_node(op_type, {"a": RNG.random((2, 3, 4)) < 0.5, "b": RNG.random((3, 1)) < 0.5})


def test_not():
    check_node("Not", {"a": RNG.random((2, 3, 4)) < 0.5}, symbolic_batch=True)


# -- where ---------------------------------------------------------------------------------------

def test_where_broadcasts_all_three():
    g = check_node("Where", {"c": RNG.random((1, 4)) < 0.5, "x": rand(3, 1), "y": np.array(2.5, np.float32)},
                   constants=("y",))
    assert g.outputs[0].type == tensor([3, 4])


def test_where_int64():
    check_node("Where", {"c": RNG.random((2, 5)) < 0.5, "x": ints(2, 5, dtype=np.int64), "y": ints(5, dtype=np.int64)})


# -- cast ----------------------------------------------------------------------------------------

CASTS = [
    (np.float32, onnx.TensorProto.INT64, np.array([1.7, -1.7, 2.5, -0.5, 0.0, 1000.9], np.float32)),
    (np.float32, onnx.TensorProto.INT32, np.array([1.7, -1.7, 2.5, -0.5, 0.0, 1000.9], np.float32)),
    (np.float32, onnx.TensorProto.BOOL, np.array([0.0, -0.0, 1e-30, -2.0, np.inf, 0.5], np.float32)),
    (np.float32, onnx.TensorProto.FLOAT16, np.array([1e-8, 0.1, 65504.0, 70000.0, -3.3, 2049.0], np.float32)),
    (np.float32, onnx.TensorProto.DOUBLE, np.array([0.1, -2.5, 3e38, 1e-40, 0, 1], np.float32)),
    (np.float64, onnx.TensorProto.FLOAT, np.array([0.1, -2.5, 1e300, 1e-50, 0, 1], np.float64)),
    (np.bool_, onnx.TensorProto.FLOAT, np.array([True, False, True, True, False, False])),
    (np.int64, onnx.TensorProto.INT8, np.array([1, -1, 127, 128, 255, -129], np.int64)),
    (np.int32, onnx.TensorProto.FLOAT, np.array([1, -1, 16777217, 3, 0, 7], np.int32)),
    (np.uint8, onnx.TensorProto.INT32, np.array([0, 1, 127, 128, 255, 9], np.uint8)),
]


@pytest.mark.parametrize("src,to,x", CASTS, ids=[f"{np.dtype(s).name}-{onnx.TensorProto.DataType.Name(t)}" for s, t, _ in CASTS])
def test_cast(src, to, x):
    g = check_node("Cast", {"x": x.reshape(2, 3)}, {"to": to}, rtol=0, atol=0)
    assert g.outputs[0].type.dtype == onnx.helper.tensor_dtype_to_np_dtype(to)


def test_castlike_takes_the_type_of_its_second_input():
    g = check_node("CastLike", {"x": rand(2, 3) * 10, "like": ints(1, dtype=np.int64)})
    op = g.find("y0")
    assert op.name == "cast" and op.attr("to") == "i64" and len(op.operands) == 1
    check_node("CastLike", {"x": rand(2, 3) * 10, "like": np.zeros(1, np.float16)}, constants=("like",))


def test_cast_to_an_unsupported_type_is_a_clear_import_error():
    m = make_node_model("Cast", {"x": rand(3)}, {"to": onnx.TensorProto.BFLOAT16})
    with pytest.raises(IRError, match=r"\(Cast\): cast to BFLOAT16 is not supported"):
        import_onnx(m)


# -- a small chain, and the verifier ---------------------------------------------------------------

def test_chain_of_elementwise_ops():
    h = onnx.helper
    nodes = [h.make_node("Mul", ["x", "s"], ["m"]), h.make_node("Add", ["m", "b"], ["a"]),
             h.make_node("Greater", ["a", "z"], ["c"]), h.make_node("Where", ["c", "a", "m"], ["w"]),
             h.make_node("Cast", ["w"], ["y"], to=onnx.TensorProto.INT32)]
    inits = [onnx.numpy_helper.from_array(a, n) for a, n in
             [(rand(3, 1), "s"), (rand(4), "b"), (np.array(0.0, np.float32), "z")]]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 3, 4])],
                     [h.make_tensor_value_info("y", onnx.TensorProto.INT32, ["N", 3, 4])], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 21)])
    m.ir_version = 10
    graph = check_model(m, {"x": rand(2, 3, 4) * 5})
    assert [op.name for op in graph.ops if op.name != "const"] == ["mul", "add", "greater", "where", "cast"]


def test_operands_must_share_an_element_type():
    with pytest.raises(VerifyError, match=r"add: operands must share an element type, got f32, i64"):
        get_op("add").infer_types([tensor([3]), tensor([3], "i64")], {})


def test_shapes_must_broadcast():
    with pytest.raises(VerifyError, match=r"shapes \[2,3\] and \[4\] do not broadcast"):
        get_op("mul").infer_types([tensor([2, 3]), tensor([4])], {})
    # symbolic and unknown dims broadcast against anything
    assert get_op("mul").infer_types([tensor(["N", 3]), tensor([1, 3])], {}) == [tensor(["N", 3])]
    assert get_op("mul").infer_types([tensor([None, 1]), tensor([3])], {}) == [tensor([None, 3])]


def test_where_condition_must_be_bool():
    with pytest.raises(VerifyError, match=r"where takes a bool condition operands, got tensor<3xf32>"):
        get_op("where").infer_types([tensor([3]), tensor([3]), tensor([3])], {})


def test_logic_needs_bool_and_variadic_needs_an_operand():
    with pytest.raises(VerifyError, match=r"and takes bool operands, got tensor<3xf32>"):
        get_op("and").infer_types([tensor([3]), tensor([3])], {})
    with pytest.raises(VerifyError, match=r"sum needs at least one operand"):
        get_op("sum").infer_types([], {})


def test_cast_needs_a_known_target_type():
    with pytest.raises(IRError, match=r"attribute 'to' of cast"):
        parse_text("""func @main(%x: tensor<3xf32>) -> (tensor<3xf32>) {
  %y = cast(%x) {to="bf16"} : tensor<3xf32>
  return %y
}
""")
