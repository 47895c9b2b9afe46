"""Elementwise math, rounding, classification and bitwise ops end to end (import, interpreter vs
onnxruntime, text round trip, export)."""

import numpy as np
import pytest

from irc.backends.numpy_interp import run_graph
from irc.backends.onnx import export_onnx, import_onnx
from irc.ir import IRError, parse_text
from irc.ir.registry import VerifyError, get_op
from irc.ir.types import tensor

from .onnx_check import check_model, check_node, make_node_model, run_ort

RNG = np.random.default_rng(11)
F32 = np.float32
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 1e30, -1e-30, 7.0]
FLOAT_TYPES = [np.float32, np.float16, np.float64]
INT_TYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


def specials(dtype=F32):
    with np.errstate(over="ignore"):
        return np.array(SPECIALS, dtype=dtype)


def same_bits(a: np.ndarray, b: np.ndarray) -> None:
    """Equal arrays including the sign of zeros and where nans are."""
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(a)
    np.testing.assert_array_equal(a[ok], b[ok])
    np.testing.assert_array_equal(np.signbit(a[ok]), np.signbit(b[ok]))


def full_range(dtype, *shape):
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)


# -- rounding and sign ----------------------------------------------------------------------------

@pytest.mark.parametrize("op_type", ["Floor", "Ceil", "Round"])
@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_rounding_is_exact_on_halves_zeros_and_specials(op_type, dtype):
    x = np.concatenate([specials(dtype), (RNG.standard_normal(20) * 10).astype(dtype)])
    g = check_node(op_type, {"x": x}, rtol=0, atol=0)
    same_bits(run_graph(g, {"x": x})["y0"], run_ort(make_node_model(op_type, {"x": x}), {"x": x})[0])


def test_round_halves_go_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 3.5, 2.4999998], F32)
    g = check_node("Round", {"x": x})
    np.testing.assert_array_equal(run_graph(g, {"x": x})["y0"], np.array([0, 2, 2, -0.0, -2, 4, 2], F32))


def test_floor_keeps_a_symbolic_batch():
    g = check_node("Floor", {"x": RNG.standard_normal((2, 3)).astype(F32)}, symbolic_batch=True)
    assert g.outputs[0].type == tensor(["N", 3])


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_sign_of_floats_and_nan(dtype):
    x = specials(dtype)
    g = check_node("Sign", {"x": x}, rtol=0, atol=0)
    y = run_graph(g, {"x": x})["y0"]
    # onnxruntime keeps nan in float32 and float64 but gives 0 in float16
    assert y[0] == 0 if dtype == np.float16 else np.isnan(y[0])


@pytest.mark.parametrize("dtype", INT_TYPES)
def test_sign_of_integers(dtype):
    check_node("Sign", {"x": full_range(dtype, 4, 5)})


def test_rounding_rejects_integers():
    with pytest.raises(VerifyError, match="floor takes float operands"):
        get_op("floor").infer_types([tensor([3], "i32")], {})


# -- trigonometry ---------------------------------------------------------------------------------

@pytest.mark.parametrize("op_type", ["Sin", "Cos"])
@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_sin_cos(op_type, dtype):
    x = np.concatenate([(RNG.standard_normal(40) * 4).astype(dtype), np.array([np.nan, np.inf, -np.inf, 0], dtype)])
    g = check_node(op_type, {"x": x}, rtol=1e-3 if dtype == np.float16 else 1e-6, atol=1e-6)
    assert g.outputs[0].type.dtype == dtype


# -- classification -------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_is_nan(dtype):
    g = check_node("IsNaN", {"x": specials(dtype)})
    assert g.outputs[0].type == tensor([len(SPECIALS)], "bool")


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
@pytest.mark.parametrize("positive,negative", [(1, 1), (1, 0), (0, 1), (0, 0)])
def test_is_inf_detect_flags(dtype, positive, negative):
    g = check_node("IsInf", {"x": specials(dtype).reshape(2, 7)},
                   {"detect_positive": positive, "detect_negative": negative})
    op = g.find("y0")
    assert op.attrs == {k: 0 for k, v in (("detect_positive", positive), ("detect_negative", negative)) if not v}


# -- modulo ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", INT_TYPES)
@pytest.mark.parametrize("fmod", [0, 1])
def test_integer_mod_signs(dtype, fmod):
    signed = np.dtype(dtype).kind == "i"
    a = np.array([7, -7, 7, -7, 0, 6, 5, -1] if signed else [7, 200, 9, 0, 6, 5, 255, 1], dtype)
    b = np.array([3, 3, -3, -3, 5, -3, 1, 4] if signed else [3, 7, 2, 5, 3, 1, 16, 9], dtype)
    g = check_node("Mod", {"a": a, "b": b}, {"fmod": fmod})
    assert g.outputs[0].type.dtype == dtype


def test_integer_mod_extremes_broadcast():
    a = full_range(np.int32, 3, 4)
    b = np.array([3, -7, 2**31 - 1, -(2**31)], np.int32)
    for fmod in (0, 1):
        check_node("Mod", {"a": a, "b": b}, {"fmod": fmod})


def test_integer_mod_by_zero_is_zero():
    g = parse_text("""func @main(%x: tensor<3xi32>, %y: tensor<3xi32>) -> (tensor<3xi32>, tensor<3xi32>) {
  %a = mod(%x, %y) : tensor<3xi32>
  %b = mod(%x, %y) {fmod=1} : tensor<3xi32>
  return %a, %b
}
""")
    out = run_graph(g, {"x": np.array([5, -5, -2**31], np.int32), "y": np.array([0, 0, -1], np.int32)})
    for v in out.values():
        np.testing.assert_array_equal(v, np.zeros(3, np.int32))


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_float_fmod(dtype):
    a = np.concatenate([specials(dtype), (RNG.standard_normal(14) * 5).astype(dtype)])
    b = np.concatenate([np.array([1, 2, -2, 3, 3, -3, 2, 0, np.inf, -np.inf, np.nan, 4, -4, 0.5], dtype),
                        (RNG.standard_normal(14) * 3).astype(dtype)])
    g = check_node("Mod", {"a": a, "b": b}, {"fmod": 1})
    same_bits(run_graph(g, {"a": a, "b": b})["y0"], run_ort(make_node_model("Mod", {"a": a, "b": b}, {"fmod": 1}),
                                                               {"a": a, "b": b})[0])


@pytest.mark.parametrize("dtype", FLOAT_TYPES)
def test_float_floor_mod_of_opset_28_exports_as_opset_21(dtype):
    """Mod-28 floors on floats: the interpreter and the opset-21 export both match onnxruntime
    bit for bit, zero signs (y's) included."""
    a = np.concatenate([specials(dtype), (RNG.standard_normal(30) * 5).astype(dtype),
                        np.array([0, -0.0, 0, -0.0, 6, -6, 1e-30, -1e-30, 7, -7], dtype)])
    b = np.concatenate([np.array([1, 2, -2, 3, 3, -3, 2, 0, np.inf, -np.inf, np.nan, 4, -4, 0.5], dtype),
                        (RNG.standard_normal(30) * 3).astype(dtype),
                        np.array([3, 3, -3, -3, 3, -3, np.inf, np.inf, -np.inf, np.inf], dtype)])
    feeds = {"a": a, "b": b.reshape(1, -1)}
    model = make_node_model("Mod", feeds, {"fmod": 0}, opset=28)
    expected = run_ort(model, feeds)[0]
    g = import_onnx(model)
    assert [op.name for op in g.ops] == ["mod"]
    same_bits(run_graph(g, feeds)["y0"], expected)
    exported = export_onnx(g)
    assert exported.opset_import[0].version == 21
    same_bits(run_ort(exported, feeds)[0], expected)


def test_float_floor_mod_before_opset_28_is_an_import_error():
    feeds = {"a": np.ones(3, F32), "b": np.ones(3, F32)}
    with pytest.raises(IRError, match="fmod=0 on f32 operands needs opset 28"):
        import_onnx(make_node_model("Mod", feeds, {"fmod": 0}, opset=21))


def test_mod_operands_must_share_a_type():
    with pytest.raises(VerifyError, match="share an element type"):
        get_op("mod").infer_types([tensor([3], "i32"), tensor([3], "i64")], {})


# -- logic and bits -------------------------------------------------------------------------------

def test_xor_broadcasts():
    g = check_node("Xor", {"a": RNG.random((2, 3, 4)) < 0.5, "b": RNG.random((3, 1)) < 0.5})
    assert g.outputs[0].type == tensor([2, 3, 4], "bool")


@pytest.mark.parametrize("op_type", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
@pytest.mark.parametrize("dtype", INT_TYPES)
def test_bitwise_binary(op_type, dtype):
    check_node(op_type, {"a": full_range(dtype, 3, 4), "b": full_range(dtype, 4)})


@pytest.mark.parametrize("dtype", INT_TYPES)
def test_bitwise_not(dtype):
    x = full_range(dtype, 2, 5)
    g = check_node("BitwiseNot", {"x": x})
    np.testing.assert_array_equal(run_graph(g, {"x": x})["y0"], ~x)


def test_bitwise_ops_reject_floats_and_xor_rejects_integers():
    with pytest.raises(VerifyError, match="bitwise_and takes integer operands"):
        get_op("bitwise_and").infer_types([tensor([3]), tensor([3])], {})
    with pytest.raises(VerifyError, match="xor takes bool operands"):
        get_op("xor").infer_types([tensor([3], "i8"), tensor([3], "i8")], {})


@pytest.mark.parametrize("op_type,inputs,attrs", [
    ("Floor", {"x": np.zeros((0, 3), F32)}, {}), ("Sin", {"x": np.zeros((2, 0), F32)}, {}),
    ("IsInf", {"x": np.zeros((0,), np.float64)}, {}), ("Sign", {"x": np.zeros((0, 2), np.int64)}, {}),
    ("Mod", {"a": np.zeros((0, 4), np.int32), "b": np.ones((4,), np.int32)}, {}),
    ("BitwiseXor", {"a": np.zeros((3, 0), np.uint8), "b": np.zeros((1, 0), np.uint8)}, {}),
    ("Xor", {"a": np.zeros((0,), bool), "b": np.zeros((1,), bool)}, {}),
])
def test_empty_tensors(op_type, inputs, attrs):
    check_node(op_type, inputs, attrs)


def test_shape_code_of_integer_ops_imports_as_declared_ops():
    """A mask computed the way exporters write it: mod, bitwise_and, sign, is_nan, xor."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Mod", ["i", "three"], ["m"]),
             helper.make_node("BitwiseAnd", ["i", "one"], ["odd"]),
             helper.make_node("Sign", ["m"], ["s"]),
             helper.make_node("Cast", ["s"], ["sb"], to=TensorProto.BOOL),
             helper.make_node("Cast", ["odd"], ["ob"], to=TensorProto.BOOL),
             helper.make_node("Xor", ["sb", "ob"], ["x"]),
             helper.make_node("IsNaN", ["f"], ["n"]),
             helper.make_node("Or", ["x", "n"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("i", TensorProto.INT64, ["N", 6]),
                                       helper.make_tensor_value_info("f", TensorProto.FLOAT, ["N", 6])],
                          [helper.make_tensor_value_info("y", TensorProto.BOOL, ["N", 6])],
                          [helper.make_tensor(n, TensorProto.INT64, [], [v]) for n, v in (("three", 3), ("one", 1))])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    f = RNG.standard_normal((3, 6)).astype(F32)
    f[0, 2] = np.nan
    graph = check_model(model, {"i": RNG.integers(-20, 20, (3, 6)), "f": f})
    assert not [op.name for op in graph.ops if "." in op.name]
    assert graph.outputs[0].type == tensor(["N", 6], "bool")
