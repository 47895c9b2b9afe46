"""int8 add / average pools / concat kernels against onnxruntime's QLinearAdd, QLinearAveragePool,
QLinearGlobalAveragePool and QLinearConcat (each fused from a QDQ model, checked in the optimized
graph). The interpreter follows onnxruntime's x86-64 arithmetic, so agreement is exact there;
the tests hold the spec's bar (>= 99.9% equal elements, never more than one quantum apart).

Grid inputs (every stored value paired with every other) with "decimal" scales such as 0.1 / 0.3
put many results next to rounding ties, where two float evaluation orders part.
"""

from pathlib import Path

import numpy as np
import pytest

from irc.backends.numpy_interp import run_graph
from irc.ir import parse_text
from irc.ir.types import QuantType, TensorType

from .qdq_models import act, agreement, one_op_ir, qdq_model, run_qdq

f32 = np.float32


def u8(scale, zp):
    return QuantType.per_tensor("u8", scale, zp)


def exact_floats(q, scale, zp):
    """Floats that QuantizeLinear maps back to exactly the integers q."""
    return ((np.asarray(q, f32) - zp) * f32(scale)).astype(f32)


def run_both(tmp_path, onnx_op, fused, operands, out, onnx_attrs, ir_op, ir_attrs):
    """(interpreter result, onnxruntime result) of one quantized op on the same integers."""
    model = qdq_model(onnx_op, operands, out, onnx_attrs)
    ort_run = run_qdq(model, {o.name: o.array for o in operands}, tmp_path)
    assert fused in ort_run.op_types, f"onnxruntime did not fuse {onnx_op} into {fused}: {ort_run.op_types}"
    ref = ort_run.outputs["y_q"]
    inputs = [(o.name, TensorType(o.array.shape, u8(float(o.scales), int(o.zero_points)))) for o in operands]
    text = one_op_ir(ir_op, inputs, [], TensorType(ref.shape, u8(*out)), ir_attrs)
    got = run_graph(parse_text(text), {o.name: ort_run.outputs[f"{o.name}_q"] for o in operands})["y"]
    return got, ref


def assert_agrees(got, ref, what):
    """specs/quantization.md's bar: >= 99.9% equal, never more than one quantum apart (the
    observed agreement on x86-64 is 100%; other CPUs run other onnxruntime code paths)."""
    rate, worst = agreement(got, ref)
    assert rate >= 0.999 and worst <= 1, f"{what}: {rate:.6f} equal, worst {worst} quanta"


# -- add ------------------------------------------------------------------------------------------

ADD_PARAMS = [((0.1, 0), (0.3, 128), (0.2, 10)), ((0.02, 200), (0.06, 5), (0.04, 128)),
              ((0.7, 77), (0.35, 3), (1.4, 250))]
COLUMN = np.tile(np.arange(256), (256, 1))[None]      # 1 x 256 x 256, value = column index
ROW = COLUMN.transpose(0, 2, 1)                         # value = row index
PER_ROW = np.arange(256).reshape(1, 256, 1)
ADD_INPUTS = {  # stored a, stored b: every (a, b) pair of values, under each broadcast pattern
    "same": (ROW, COLUMN),
    "b_broadcast": (COLUMN, PER_ROW),
    "a_broadcast": (PER_ROW, COLUMN),
    "b_scalar": (np.random.default_rng(7).integers(0, 256, (2, 3, 40)), np.array([77])),
}


@pytest.mark.parametrize("pattern", ADD_INPUTS)
@pytest.mark.parametrize("params", ADD_PARAMS, ids=["decimal", "mixed", "large"])
def test_add_matches_qlinearadd(tmp_path, pattern, params):
    (sa, za), (sb, zb), out = params
    qa, qb = ADD_INPUTS[pattern]
    operands = [act("a", exact_floats(qa, sa, za), sa, za), act("b", exact_floats(qb, sb, zb), sb, zb)]
    got, ref = run_both(tmp_path, "Add", "QLinearAdd", operands, out, {}, "add", {})
    assert_agrees(got, ref, f"add {pattern}")


def test_textbook_add_formula_misses_onnxruntime_near_ties():
    """Why the kernel follows onnxruntime's evaluation order: the textbook float expression
    (s_a (a - z_a) + s_b (b - z_b)) / s_y rounds differently on a few percent of this grid."""
    (sa, za), (sb, zb), (sy, zy) = ADD_PARAMS[0]
    qa, qb = ROW.astype(np.uint8), COLUMN.astype(np.uint8)
    text = one_op_ir("add", [("a", TensorType(qa.shape, u8(sa, za))), ("b", TensorType(qb.shape, u8(sb, zb)))], [],
                     TensorType(qa.shape, u8(sy, zy)))
    got = run_graph(parse_text(text), {"a": qa, "b": qb})["y"]
    textbook = (f32(sa) * (qa.astype(f32) - za) + f32(sb) * (qb.astype(f32) - zb)) / f32(sy)
    textbook = np.clip(np.rint(textbook) + zy, 0, 255).astype(np.uint8)
    rate, worst = agreement(got, textbook)
    assert worst == 1 and 0.9 < rate < 0.999


def test_add_with_fused_relu_and_clip_clamps_the_stored_result():
    (sa, za), (sb, zb), _ = ADD_PARAMS[0]
    qa, qb = ROW.astype(np.uint8), COLUMN.astype(np.uint8)
    inputs = [("a", TensorType(qa.shape, u8(sa, za))), ("b", TensorType(qb.shape, u8(sb, zb)))]
    result = TensorType(qa.shape, u8(0.2, 60))
    plain = run_graph(parse_text(one_op_ir("add", inputs, [], result)), {"a": qa, "b": qb})["y"]
    relu = run_graph(parse_text(one_op_ir("add", inputs, [], result, {"activation": "relu"})), {"a": qa, "b": qb})["y"]
    np.testing.assert_array_equal(relu, np.maximum(plain, 60))  # q(0) = z_y
    clip = run_graph(parse_text(one_op_ir("add", inputs, [], result,
                                          {"activation": "clip", "activation_min": -2.0, "activation_max": 3.0})),
                     {"a": qa, "b": qb})["y"]
    np.testing.assert_array_equal(clip, np.clip(plain, 50, 75))  # q(-2) = -10 + 60, q(3) = 15 + 60
    assert plain.min() < 50 and plain.max() > 75


# Parameters under which the constant term F of the add formula (specs/quantization.md §3) changes
# with the way its two products are summed: rounded one by one versus onnxruntime's fused
# multiply-add, and, with a per-span operand, its term folded in with or without a fused
# multiply-add. Found by scanning random three-digit scales against onnxruntime.
NEAR_TIE_PARAMS = {"same": ((0.0115, 171), (0.0904, 67), (0.054, 178)),
                   "b_broadcast": ((0.0154, 210), (0.0525, 147), (0.0604, 197)),
                   "a_broadcast": ((0.0525, 147), (0.0154, 210), (0.0604, 197))}
SSDLITE_ADD = Path(__file__).parent / "data" / "ssdlite_add_near_ties.npz"


@pytest.mark.parametrize("pattern", NEAR_TIE_PARAMS)
def test_add_is_bit_exact_where_the_constant_term_rounding_matters(tmp_path, pattern):
    (sa, za), (sb, zb), out = NEAR_TIE_PARAMS[pattern]
    qa, qb = ADD_INPUTS[pattern]
    operands = [act("a", exact_floats(qa, sa, za), sa, za), act("b", exact_floats(qb, sb, zb), sb, zb)]
    got, ref = run_both(tmp_path, "Add", "QLinearAdd", operands, out, {}, "add", {})
    np.testing.assert_array_equal(got, ref, err_msg=f"add {pattern}")


def test_add_is_bit_exact_on_operands_captured_from_ssdlite(tmp_path):
    """Stored operands of an add inside SSDLite (64 x 20 x 20) whose result sits next to rounding
    ties on a few elements: the case that told the fused constant term apart."""
    with np.load(SSDLITE_ADD, allow_pickle=False) as data:
        qa, qb = data["a"][None], data["b"][None]
        (sa, sb, sy), (za, zb, zy) = [float(s) for s in data["scales"]], [int(z) for z in data["zero_points"]]
    operands = [act("a", exact_floats(qa, sa, za), sa, za), act("b", exact_floats(qb, sb, zb), sb, zb)]
    ort_run = run_qdq(qdq_model("Add", operands, (sy, zy)), {o.name: o.array for o in operands}, tmp_path)
    assert "QLinearAdd" in ort_run.op_types, ort_run.op_types
    np.testing.assert_array_equal(ort_run.outputs["a_q"], qa)  # the captured integers reach the op
    np.testing.assert_array_equal(ort_run.outputs["b_q"], qb)
    inputs = [("a", TensorType(qa.shape, u8(sa, za))), ("b", TensorType(qb.shape, u8(sb, zb)))]
    got = run_graph(parse_text(one_op_ir("add", inputs, [], TensorType(qa.shape, u8(sy, zy)))), {"a": qa, "b": qb})["y"]
    np.testing.assert_array_equal(got, ort_run.outputs["y_q"])


# -- pools ----------------------------------------------------------------------------------------

POOL_CASES = [
    ("AveragePool", "average_pool", (2, 8, 17, 17), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    ("AveragePool", "average_pool", (2, 8, 17, 17),
     {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
    ("AveragePool", "average_pool", (2, 8, 16, 16), {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("AveragePool", "average_pool", (2, 8, 17, 17), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    ("AveragePool", "average_pool", (2, 8, 7, 7), {"kernel_shape": [7, 7]}),     # onnxruntime's global path
    ("AveragePool", "average_pool", (2, 4, 20), {"kernel_shape": [4], "strides": [2], "pads": [1, 2]}),  # 1-D
    ("GlobalAveragePool", "global_average_pool", (2, 64, 7, 7), {}),
    ("GlobalAveragePool", "global_average_pool", (3, 16, 13, 11), {}),
]


@pytest.mark.parametrize("onnx_op, ir_op, shape, attrs", POOL_CASES)
@pytest.mark.parametrize("scales", [(0.05, 0.03), (0.1, 0.1), (0.3, 0.1)], ids=["s1", "s2", "s3"])
def test_pools_match_onnxruntime(tmp_path, onnx_op, ir_op, shape, attrs, scales):
    sx, sy = scales
    q = np.random.default_rng(len(shape) + shape[-1]).integers(0, 256, shape)
    fused = "QLinear" + onnx_op
    got, ref = run_both(tmp_path, onnx_op, fused, [act("x", exact_floats(q, sx, 100), sx, 100)], (sy, 90),
                        attrs, ir_op, attrs)
    assert_agrees(got, ref, f"{ir_op} {attrs}")


# -- concat ---------------------------------------------------------------------------------------

def concat_graph(types, out_type, axis=1):
    """x0, x1, ... -> concat -> y, as IR text (operands may differ in their parameters)."""
    return parse_text(one_op_ir("concat", [(f"x{i}", t) for i, t in enumerate(types)], [], out_type, {"axis": axis}))


def test_concat_with_mixed_parameters_matches_qlinearconcat(tmp_path):
    rng = np.random.default_rng(3)
    params = [(0.02, 100), (0.03, 40), (0.025, 90)]
    shapes = [(1, 4, 16, 16), (1, 3, 16, 16)]
    qs = [rng.integers(0, 256, s) for s in shapes]
    operands = [act(f"x{i}", exact_floats(q, *p), *p) for i, (q, p) in enumerate(zip(qs, params))]
    model = qdq_model("Concat", operands, params[2], {"axis": 1})
    ort_run = run_qdq(model, {o.name: o.array for o in operands}, tmp_path)
    assert "QLinearConcat" in ort_run.op_types, ort_run.op_types
    g = concat_graph([TensorType(s, u8(*p)) for s, p in zip(shapes, params)],
                     TensorType((1, 7, 16, 16), u8(*params[2])))
    got = run_graph(g, {f"x{i}": ort_run.outputs[f"x{i}_q"] for i in range(2)})["y"]
    assert_agrees(got, ort_run.outputs["y_q"], "concat")


def test_concat_with_equal_parameters_moves_integers():
    t = u8(0.5, 3)
    a = np.arange(12, dtype=np.uint8).reshape(1, 3, 4)
    b = np.arange(100, 108, dtype=np.uint8).reshape(1, 2, 4)
    g = concat_graph([TensorType(a.shape, t), TensorType(b.shape, t)], TensorType((1, 5, 4), t))
    np.testing.assert_array_equal(run_graph(g, {"x0": a, "x1": b})["y"], np.concatenate([a, b], axis=1))


def test_requantizing_ops_reject_per_axis_activations():
    t = TensorType((1, 2, 4, 4), QuantType.per_axis("u8", [0.1, 0.2], [0, 0], 1))
    text = one_op_ir("global_average_pool", [("x", t)], [], TensorType((1, 2, 1, 1), u8(0.1, 0)))
    with pytest.raises(Exception, match="must be quantized per tensor"):
        run_graph(parse_text(text), {"x": np.zeros((1, 2, 4, 4), np.uint8)})


@pytest.mark.parametrize("params", [((0.1, -128), (0.3, 0), (0.2, -118)), ((0.02, 72), (0.06, -123), (0.04, 0))],
                         ids=["decimal", "mixed"])
def test_i8_add_matches_qlinearadd_in_its_u8_form(tmp_path, params):
    """i8 activations: onnxruntime on x86 rewrites every i8 Q -> DQ pair to u8 (+128) before it
    fuses; the interpreter's i8 add computes in that form and agrees to the bit."""
    assert_i8_bit_exact(tmp_path, "Add", "QLinearAdd", "add", params)


def assert_i8_bit_exact(tmp_path, onnx_op, fused, ir_op, params):
    """Every pair of i8 stored values through the fused onnxruntime kernel and the interpreter:
    equal to the bit, and i8 on both sides."""
    (sa, za), (sb, zb), (sy, zy) = params
    qa, qb = ROW - 128, COLUMN - 128
    operands = [act("a", exact_floats(qa, sa, za), sa, za, np.int8), act("b", exact_floats(qb, sb, zb), sb, zb, np.int8)]
    model = qdq_model(onnx_op, operands, (sy, zy), out_dtype=np.int8)
    ort_run = run_qdq(model, {o.name: o.array for o in operands}, tmp_path)
    assert fused in ort_run.op_types, ort_run.op_types
    i8 = lambda s, z: QuantType.per_tensor("i8", s, z)  # noqa: E731
    text = one_op_ir(ir_op, [("a", TensorType(qa.shape, i8(sa, za))), ("b", TensorType(qb.shape, i8(sb, zb)))], [],
                     TensorType(qa.shape, i8(sy, zy)))
    got = run_graph(parse_text(text), {"a": ort_run.outputs["a_q"], "b": ort_run.outputs["b_q"]})["y"]
    assert got.dtype == np.int8
    assert np.array_equal(got, ort_run.outputs["y_q"])


# -- mul ------------------------------------------------------------------------------------------

MUL_PARAMS = [((0.1, 0), (0.3, 128), (0.2, 10)), ((0.02, 200), (0.004, 0), (0.01, 128)),
              ((0.7, 77), (0.35, 3), (30.0, 250))]


@pytest.mark.parametrize("pattern", ADD_INPUTS)
@pytest.mark.parametrize("params", MUL_PARAMS, ids=["decimal", "gate", "saturating"])
def test_mul_matches_qlinearmul(tmp_path, pattern, params):
    """Every pair of stored values, same-shape, broadcast (a squeeze-excite gate's per-channel
    operand) and scalar: equal to the bit."""
    (sa, za), (sb, zb), out = params
    qa, qb = ADD_INPUTS[pattern]
    operands = [act("a", exact_floats(qa, sa, za), sa, za), act("b", exact_floats(qb, sb, zb), sb, zb)]
    got, ref = run_both(tmp_path, "Mul", "QLinearMul", operands, out, {}, "mul", {})
    assert_agrees(got, ref, f"mul {pattern}")
    assert np.array_equal(got, ref)


def test_i8_mul_matches_qlinearmul(tmp_path):
    assert_i8_bit_exact(tmp_path, "Mul", "QLinearMul", "mul", ((0.1, -128), (0.3, 0), (0.2, -118)))


# -- sigmoid --------------------------------------------------------------------------------------

@pytest.mark.parametrize("x_params,y_params", [((0.1, 128), (1 / 255, 0)), ((0.07, 200), (0.5 / 255, 10)),
                                               ((0.02, 0), (1 / 256, 0)), ((0.3, 30), (0.004, 3))])
def test_sigmoid_matches_qlinearsigmoid_on_every_stored_value(tmp_path, x_params, y_params):
    """QLinearSigmoid is a table of the 256 stored values built with onnxruntime's own logistic
    approximation; the interpreter builds the same table."""
    (sx, zx), out = x_params, y_params
    q = np.arange(256).reshape(1, 4, 8, 8)
    operands = [act("x", exact_floats(q, sx, zx), sx, zx)]
    got, ref = run_both(tmp_path, "Sigmoid", "QLinearSigmoid", operands, out, {}, "sigmoid", {})
    assert np.array_equal(got, ref), np.argwhere(got != ref)[:5]


def test_logistic_is_onnxruntimes_float_sigmoid():
    """The float function the table is built from equals onnxruntime's Sigmoid on this CPU
    (a check of the emulated approximation, not of any quantization)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from irc.backends.numpy_interp.kernels.int8_activation import logistic

    g = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    x = np.concatenate([np.linspace(-20, 20, 1001, dtype=f32), np.random.default_rng(3).normal(0, 5, 1000).astype(f32)])
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = np.array([logistic(v) for v in x], f32)
    assert np.array_equal(got, ref)
