"""int8 conv / gemm / matmul kernels: bit-exact against onnxruntime's real int8 kernels.

Each case builds a QDQ model (u8 activations, int8 symmetric per-channel weights, i32 bias),
checks that onnxruntime's optimized graph holds QLinearConv / QGemm / QLinearMatMul (so its int8
kernel ran), and runs the same op as quantized IR in the interpreter on the very integers
onnxruntime quantized. specs/quantization.md asks for >= 99.9% equal elements and never more
than one quantum apart; on x86-64 the observed agreement is 100%. On x86 CPUs without VNNI,
whose onnxruntime kernels add pairs of products in saturating int16, the weights are the
quantize pass's reduced range (|q| <= 63), under which those kernels are exact too.
"""

import numpy as np
import pytest

from irc.backends.numpy_interp import run_graph
from irc.backends.numpy_interp.kernels._int8 import MAX_CHUNK, chunk_size, exact_matmul
from irc.ir import Graph, Op, parse_text
from irc.ir.types import QuantType, TensorType
from irc.passes.quantize import Quantize

from .qdq_models import act, agreement, const, one_op_ir, qdq_model, run_qdq

MIN_AGREEMENT = 0.999


def u8(scale, zp):
    return QuantType.per_tensor("u8", scale, zp)


QMAX = Quantize().weight_qmax  # the quantize pass's default on this host


def symmetric_weights(rng, shape, axis):
    """Float weights (fan-in scaled) quantized symmetric per index of `axis` (None: per tensor).

    Returns (scales, int8 weights); the scales are a vector along `axis`, or one float32.
    """
    w = rng.standard_normal(shape).astype(np.float32) / np.sqrt(np.prod(shape) / shape[axis or 0])
    if axis is None:
        scale = np.float32(np.abs(w).max() / QMAX)
        return scale, np.clip(np.rint(w / scale), -QMAX, QMAX).astype(np.int8)
    others = tuple(i for i in range(len(shape)) if i != axis)
    scales = (np.abs(w).max(axis=others) / QMAX).astype(np.float32)
    q = np.clip(np.rint(w / np.expand_dims(scales, others)), -QMAX, QMAX).astype(np.int8)
    return scales, q


def check_against_ort(tmp_path, onnx_op, fused, spec, out, attrs, ir_op, ir_attrs, inputs, consts):
    """Run the QDQ model and the IR op; assert the fusion and the agreement; return the rate."""
    model = qdq_model(onnx_op, spec, out, attrs)
    feeds = {o.name: o.array for o in spec if not o.constant}
    ort_run = run_qdq(model, feeds, tmp_path)
    assert fused in ort_run.op_types, f"onnxruntime did not fuse {onnx_op} into {fused}: {ort_run.op_types}"
    assert onnx_op not in ort_run.op_types, ort_run.op_types
    ref = ort_run.outputs["y_q"]
    result = TensorType(ref.shape, u8(*out))
    text = one_op_ir(ir_op, [(n, t) for n, t, _ in inputs], [(n, t) for n, t, _ in consts], result, ir_attrs)
    graph = parse_text(text, weights={n: a for n, _, a in consts})
    got = run_graph(graph, {n: ort_run.outputs[f"{n}_q"] for n, _, _ in inputs})["y"]
    rate, worst = agreement(got, ref)
    assert rate >= MIN_AGREEMENT and worst <= 1, f"{ir_op}: {rate:.5f} equal, worst {worst} quanta"
    return rate


CONV_CASES = [
    # x shape, w shape, attrs (ONNX and IR spell these alike)
    ((2, 16, 12, 12), (32, 16, 3, 3), {"pads": [1, 1, 1, 1]}),
    ((1, 24, 15, 13), (16, 24, 3, 3), {"pads": [1, 0, 2, 1], "strides": [2, 2]}),
    ((1, 32, 10, 10), (32, 1, 3, 3), {"pads": [1, 1, 1, 1], "group": 32}),            # depthwise
    ((1, 32, 12, 12), (48, 8, 3, 3), {"pads": [2, 2, 2, 2], "group": 4, "dilations": [2, 2]}),
    ((1, 3, 20, 20), (8, 3, 5, 5), {"pads": [2, 2, 2, 2], "strides": [2, 2]}),
    ((1, 600, 4, 4), (12, 600, 1, 1), {}),                                           # K > 512: chunked
    ((2, 8, 30), (6, 8, 5), {"pads": [2, 2], "strides": [2]}),                       # 1-D
]


@pytest.mark.parametrize("x_shape, w_shape, attrs", CONV_CASES)
def test_conv_matches_qlinearconv(tmp_path, x_shape, w_shape, attrs):
    rng = np.random.default_rng(sum(x_shape) + sum(w_shape))
    x = rng.standard_normal(x_shape).astype(np.float32)
    w_scales, wq = symmetric_weights(rng, w_shape, 0)
    m = w_shape[0]
    sx, zx = np.float32(0.025), 118
    b_scales = (sx * w_scales).astype(np.float32)
    bq = rng.integers(-3000, 3000, m).astype(np.int32)
    spec = [act("x", x, sx, zx), const("w", wq, w_scales, axis=0), const("b", bq, b_scales, axis=0)]
    inputs = [("x", TensorType(x_shape, u8(sx, zx)), None)]
    consts = [("w", TensorType(w_shape, QuantType.per_axis("i8", w_scales, [0] * m, 0)), wq),
              ("b", TensorType((m,), QuantType.per_axis("i32", b_scales, [0] * m, 0)), bq)]
    check_against_ort(tmp_path, "Conv", "QLinearConv", spec, (0.04, 105), attrs, "conv", attrs, inputs, consts)


@pytest.mark.parametrize("m, k, n, trans_b, bias, per_axis", [
    (8, 256, 100, 1, True, True),
    (4, 1200, 64, 0, True, True),     # K > 512, b as K x N
    (3, 64, 10, 1, False, True),
    (5, 96, 12, 1, True, False),      # per-tensor weight and bias
])
def test_gemm_matches_qgemm(tmp_path, m, k, n, trans_b, bias, per_axis):
    rng = np.random.default_rng(m * k + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    axis = 0 if trans_b else 1
    w_scales, wq = symmetric_weights(rng, (n, k) if trans_b else (k, n), axis if per_axis else None)
    sa, za = np.float32(0.02), 97
    spec = [act("a", a, sa, za), const("b", wq, w_scales, axis if per_axis else None)]
    w_type = (QuantType.per_axis("i8", w_scales, [0] * n, axis) if per_axis
              else QuantType.per_tensor("i8", w_scales, 0))
    consts = [("b", TensorType(wq.shape, w_type), wq)]
    if bias:
        c_scales = (sa * w_scales).astype(np.float32)
        cq = rng.integers(-5000, 5000, n).astype(np.int32)
        spec.append(const("c", cq, c_scales, 0 if per_axis else None))
        c_type = (QuantType.per_axis("i32", c_scales, [0] * n, 0) if per_axis
                  else QuantType.per_tensor("i32", c_scales, 0))
        consts.append(("c", TensorType((n,), c_type), cq))
    attrs = {"transB": 1} if trans_b else {}
    check_against_ort(tmp_path, "Gemm", "QGemm", spec, (0.08, 121), attrs, "gemm",
                      {"trans_b": 1} if trans_b else {}, [("a", TensorType((m, k), u8(sa, za)), None)], consts)


@pytest.mark.parametrize("a_shape, n, per_axis", [
    ((2, 5, 64), 32, False),          # batched lhs
    ((7, 700), 48, False),            # K > 512
    ((2, 3, 4, 96), 16, True),        # per-column weight scales
])
def test_matmul_matches_qlinearmatmul(tmp_path, a_shape, n, per_axis):
    rng = np.random.default_rng(sum(a_shape) + n)
    a = rng.standard_normal(a_shape).astype(np.float32)
    k = a_shape[-1]
    w_scales, wq = symmetric_weights(rng, (k, n), 1 if per_axis else None)
    sa, za = np.float32(0.03), 131
    spec = [act("a", a, sa, za), const("b", wq, w_scales, 1 if per_axis else None)]
    w_type = QuantType.per_axis("i8", w_scales, [0] * n, 1) if per_axis else QuantType.per_tensor("i8", w_scales, 0)
    check_against_ort(tmp_path, "MatMul", "QLinearMatMul", spec, (0.06, 126), {}, "matmul", {},
                      [("a", TensorType(a_shape, u8(sa, za)), None)], [("b", TensorType((k, n), w_type), wq)])


# -- exactness of the accumulation ----------------------------------------------------------------

def test_exact_matmul_is_exact_at_the_extremes():
    """Operands at the bounds (|x - z| up to 255, |w| up to 128) over 5000 terms stay exact."""
    rng = np.random.default_rng(0)
    a = rng.integers(-255, 256, (3, 5000)).astype(np.float32)
    b = rng.integers(-128, 128, (5000, 4)).astype(np.float32)
    # one row and one column of large same-sign values: their product sums to about 1.3e8 > 2^24
    a[0] = rng.integers(200, 256, 5000)
    b[:, 0] = rng.integers(100, 128, 5000)
    got = exact_matmul(a, b, 255, 128)
    want = a.astype(np.int64) @ b.astype(np.int64)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int32 and abs(want[0, 0]) > 2**24
    assert chunk_size(255, 128) == MAX_CHUNK and chunk_size(255, 255) < MAX_CHUNK
    # Why the chunks exist, without asking BLAS (whose kernels sum in orders of their own, some of
    # them exact here): past 2^24 float32 holds only every 2nd, 4th, 8th integer, so a float32
    # sum of these 5000 products taken in one order (np.cumsum adds one after another) is off,
    # while every partial sum of a chunk stays below 2^24, where each integer is a float32.
    products = a[0] * b[:, 0]
    assert np.cumsum(products, dtype=np.float32)[-1] != want[0, 0]
    assert chunk_size(255, 128) * 255 * 128 < 2**24


def reference_conv(xq, zx, wq, bias, groups, pads):
    """Integer conv by explicit loops over the kernel taps (int64, no BLAS), for checking."""
    n, c, h, w = xq.shape
    m, cg, kh, kw = wq.shape
    xp = np.pad(xq.astype(np.int64) - zx, [(0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])])
    oh, ow = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    acc = np.zeros((n, m, oh, ow), np.int64)
    mg = m // groups
    for g in range(groups):
        xs = xp[:, g * cg:(g + 1) * cg]
        ws = wq[g * mg:(g + 1) * mg].astype(np.int64)
        for i in range(kh):
            for j in range(kw):
                acc[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", xs[:, :, i:i + oh, j:j + ow], ws[:, :, i, j])
    return acc + bias[None, :, None, None]


@pytest.mark.parametrize("storage, zx", [("i8", 0), ("i8", -20), ("u8", 255)])
def test_conv_formula_with_i8_activations(storage, zx):
    """i8 activations (which onnxruntime does not fuse on x86) against the §3 formula itself."""
    rng = np.random.default_rng(1)
    lo, hi = (-128, 127) if storage == "i8" else (0, 255)
    xq = rng.integers(lo, hi + 1, (2, 6, 7, 7)).astype(np.int8 if storage == "i8" else np.uint8)
    wq = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    bq = rng.integers(-500, 500, 4).astype(np.int32)
    sx, sw, sy = np.float32(0.05), np.array([0.01, 0.02, 0.003, 0.04], np.float32), np.float32(0.2)
    qy = QuantType.per_tensor(storage, sy, 3)
    text = one_op_ir("conv", [("x", TensorType(xq.shape, QuantType.per_tensor(storage, sx, zx)))],
                     [("w", TensorType(wq.shape, QuantType.per_axis("i8", sw, [0] * 4, 0))),
                      ("b", TensorType((4,), QuantType.per_axis("i32", sx * sw, [0] * 4, 0)))],
                     TensorType((2, 4, 7, 7), qy), {"group": 2, "pads": [1, 1, 1, 1]})
    got = run_graph(parse_text(text, weights={"w": wq, "b": bq}), {"x": xq})["y"]
    acc = reference_conv(xq, zx, wq, bq, 2, [1, 1, 1, 1])
    m = ((sx * sw) / sy).astype(np.float32)[None, :, None, None]
    want = np.clip(np.rint(acc.astype(np.float32) * m) + 3, qy.qmin, qy.qmax).astype(xq.dtype)
    np.testing.assert_array_equal(got, want)


# -- fused activations ----------------------------------------------------------------------------

def conv_graph(activation="", lo=None, hi=None, zy=100):
    """A quantized 1x1 conv with a fused activation, built with the Graph API."""
    g = Graph()
    x = g.add_input(TensorType((1, 2, 4, 4), u8(0.1, 128)), "x")
    w = Op("const", (), [TensorType((3, 2, 1, 1), QuantType.per_axis("i8", [0.05, 0.05, 0.05], [0] * 3, 0))],
           {"ref": "w"})
    g.weights["w"] = np.array([[1, 2], [-3, 4], [127, -127]], np.int8).reshape(3, 2, 1, 1)
    g.append(w)
    attrs = {k: v for k, v in (("activation", activation), ("activation_min", lo), ("activation_max", hi))
             if v is not None and v != ""}
    conv = Op("conv", [x, w.result], [TensorType((1, 3, 4, 4), u8(0.02, zy))], attrs, result_names=["y"])
    g.append(conv)
    g.set_outputs([conv.result])
    return g


def test_fused_relu_and_clip_clamp_in_the_integer_domain():
    xq = np.random.default_rng(2).integers(0, 256, (1, 2, 4, 4)).astype(np.uint8)
    plain = run_graph(conv_graph(), {"x": xq})["y"].astype(int)
    relu = run_graph(conv_graph("relu"), {"x": xq})["y"].astype(int)
    np.testing.assert_array_equal(relu, np.maximum(plain, 100))   # q(0) = z_y
    clip = run_graph(conv_graph("clip", -0.5, 1.0), {"x": xq})["y"].astype(int)
    np.testing.assert_array_equal(clip, np.clip(plain, 75, 150))  # q(-0.5) = -25 + 100, q(1) = 50 + 100
    assert plain.min() < 75 and plain.max() > 150  # the clamps did something
    # relu with z_y = 0 is the saturation alone: the graphs the quantize pass makes
    np.testing.assert_array_equal(run_graph(conv_graph("relu", zy=0), {"x": xq})["y"],
                                  run_graph(conv_graph(zy=0), {"x": xq})["y"])


def test_unknown_fused_activation_is_an_error():
    g = conv_graph()
    g.ops[-1].attrs["activation"] = "gelu"  # past the declaration's check, as a buggy pass might
    with pytest.raises(Exception, match="unknown fused activation 'gelu'"):
        run_graph(g, {"x": np.zeros((1, 2, 4, 4), np.uint8)})


# -- errors ---------------------------------------------------------------------------------------

def quantized_gemm_text(bias_scale=0.001, attrs=""):
    return f"""func @main(%a: tensor<2x3x!q.u8<0.1:0>>) -> (tensor<2x2x!q.u8<0.5:0>>) {{
  %b = const dense<[1, 2, 3, 4, 5, 6]> : tensor<3x2x!q.i8<0.01:0>>
  %c = const dense<[10, 20]> : tensor<2x!q.i32<{bias_scale}:0>>
  %y = gemm(%a, %b, %c){attrs} : tensor<2x2x!q.u8<0.5:0>>
  return %y
}}
"""


def test_gemm_bias_with_the_wrong_scale_is_rejected():
    a = np.ones((2, 3), np.uint8)
    run_graph(parse_text(quantized_gemm_text()), {"a": a})  # 0.1 * 0.01: accepted
    with pytest.raises(Exception, match="scale must be input scale x weight scale"):
        run_graph(parse_text(quantized_gemm_text(bias_scale=0.002)), {"a": a})


def test_gemm_alpha_is_rejected_when_quantized():
    with pytest.raises(Exception, match="alpha=1 and beta=1"):
        run_graph(parse_text(quantized_gemm_text(attrs=" {alpha=2.0}")), {"a": np.ones((2, 3), np.uint8)})
