"""Normalization ops end to end: batch_norm, instance_norm, layer_norm, softmax, log_softmax.

Normalized outputs are O(1..10) after scale and bias, where one float32 ulp is up to ~1e-6 and
onnxruntime sums in a different order: entries near zero are compared with atol=1e-5.
"""

import numpy as np
import onnx
import pytest
from onnx import helper

from irc.backends.numpy_interp import run_graph
from irc.backends.onnx import import_onnx
from irc.ir import IRError, parse_text
from irc.ir.registry import VerifyError, get_op
from irc.ir.types import tensor

from .onnx_check import check_generic, check_model, check_node, make_node_model

RNG = np.random.default_rng(11)
ATOL = 1e-5


def rand(*shape, scale=1.0, shift=0.0):
    return (RNG.standard_normal(shape) * scale + shift).astype(np.float32)


def positive(*shape):
    return RNG.uniform(0.2, 2.0, shape).astype(np.float32)


# -- batch_norm -----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (4, 6), (2, 3, 4, 2, 2)])
def test_batch_norm_ranks(shape):
    c = shape[1]
    params = {"s": rand(c), "bias": rand(c), "mean": rand(c), "var": positive(c)}
    g = check_node("BatchNormalization", {"x": rand(*shape), **params}, constants=tuple(params),
                   atol=ATOL, symbolic_batch=True)
    op = g.find("y0")
    assert op.name == "batch_norm" and op.attrs == {}
    assert op.result.type.shape[0] == "N"


def test_batch_norm_epsilon_and_operand_inputs():
    # scale/bias/mean/var may be graph inputs too (they stay operands)
    g = check_node("BatchNormalization", {"x": rand(2, 3, 4, 5), "s": rand(3), "bias": rand(3),
                                          "mean": rand(3), "var": positive(3) * 1e-3},
                   {"epsilon": 1e-2}, atol=ATOL)
    assert g.find("y0").attrs["epsilon"] == pytest.approx(1e-2)


def test_batch_norm_training_mode_is_a_generic_op():
    c = 3
    feeds = {"x": rand(2, c, 4), "s": rand(c), "b": rand(c), "m": rand(c), "v": positive(c)}
    m = make_node_model("BatchNormalization", feeds, {"training_mode": 1}, n_outputs=3)
    check_generic(m, feeds, "BatchNormalization", "(BatchNormalization): training_mode=1 is not supported",
                  rtol=1e-4, atol=1e-5)


def test_batch_norm_verify_error():
    with pytest.raises(VerifyError, match=r"operand var must have shape \[3\].*got \[4\]"):
        get_op("batch_norm").infer_types([tensor((2, 3, 8, 8))] + [tensor((3,))] * 3 + [tensor((4,))], {})


# -- instance_norm --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 7), (2, 2, 3, 2, 4)])
def test_instance_norm(shape):
    c = shape[1]
    check_node("InstanceNormalization", {"x": rand(*shape, scale=3.0, shift=2.0), "s": rand(c),
                                         "b": rand(c)}, constants=("s", "b"), atol=ATOL,
               symbolic_batch=True)


def test_instance_norm_epsilon():
    g = check_node("InstanceNormalization", {"x": rand(2, 3, 4, 5, scale=0.05), "s": rand(3), "b": rand(3)},
                   {"epsilon": 0.01}, atol=ATOL)
    assert "epsilon" in g.find("y0").attrs


def test_instance_norm_verify_error():
    with pytest.raises(VerifyError, match=r"x must be \[N, C, D1, ...\] \(rank 3 or more\)"):
        get_op("instance_norm").infer_types([tensor((2, 3)), tensor((3,)), tensor((3,))], {})


# -- layer_norm -----------------------------------------------------------------------------------

@pytest.mark.parametrize("axis", [-1, -2, 0, 1, 2])
def test_layer_norm_axes(axis):
    x = rand(2, 3, 8, scale=2.0, shift=1.0)
    norm_shape = x.shape[axis:]
    g = check_node("LayerNormalization", {"x": x, "w": rand(*norm_shape), "b": rand(*norm_shape)},
                   {"axis": axis}, constants=("w", "b"), atol=ATOL)
    assert g.find("y0").attrs["axis"] == axis % 3  # stored non-negative


def test_layer_norm_no_bias_default_axis_symbolic_batch():
    # no bias input at all: onnxruntime 1.32 crashes on a LayerNormalization whose bias is given
    # as an empty name, so the node simply has two inputs
    g = check_node("LayerNormalization", {"x": rand(3, 5, 16, shift=4.0), "w": rand(16)},
                   {"epsilon": 1e-3}, constants=("w",), atol=ATOL, symbolic_batch=True)
    op = g.find("y0")
    assert len(op.operands) == 2 and op.attrs["axis"] == 2


def test_layer_norm_scale_broadcasts():
    # scale [1, 8] broadcasts onto the normalized dims [4, 8]
    check_node("LayerNormalization", {"x": rand(2, 4, 8), "w": rand(1, 8), "b": rand(8)}, {"axis": 1},
               constants=("w", "b"), atol=ATOL)


def _layer_norm_model(read: tuple[str, ...], x_shape=(2, 6), axis: int = -1, dtype=np.float32,
                      stash_type: int | None = None, symbolic_batch: bool = False) -> onnx.ModelProto:
    """A LayerNormalization naming all three outputs; graph outputs are Y and the names in `read`."""
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    shape = list(x_shape)
    if symbolic_batch:
        shape[0] = "N"
    x = helper.make_tensor_value_info("x", elem, shape)
    outputs = [helper.make_tensor_value_info("y", elem, None)]
    outputs += [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in read]
    attrs = {"axis": axis} if stash_type is None else {"axis": axis, "stash_type": stash_type}
    node = helper.make_node("LayerNormalization", ["x", "w", "b"], ["y", "mean", "inv_std"], name="ln", **attrs)
    norm_shape = x_shape[axis % len(x_shape):]
    inits = [onnx.numpy_helper.from_array(rand(*norm_shape).astype(dtype), "w"),
             onnx.numpy_helper.from_array(rand(*norm_shape).astype(dtype), "b")]
    m = helper.make_model(helper.make_graph([node], "g", [x], outputs, inits),
                          opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    return m


def test_layer_norm_unread_statistics_outputs_are_not_computed():
    g = check_model(_layer_norm_model(read=()), {"x": rand(2, 6)}, atol=ATOL)
    op = g.find("y")
    assert "stats" not in op.attrs and len(op.results) == 1


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_layer_norm_statistics_outputs(axis):
    # Mean and InvStdDev: float32, x's shape with the normalized dims kept as 1, as onnxruntime
    x = rand(3, 4, 5, scale=2.0, shift=3.0)
    g = check_model(_layer_norm_model(("mean", "inv_std"), x.shape, axis), {"x": x}, atol=ATOL)
    op = g.find("y")
    assert op.attrs["stats"] == 1 and [r.name for r in op.results] == ["y", "mean", "inv_std"]
    keep = axis % 3
    assert op.results[1].type == tensor(x.shape[:keep] + (1,) * (3 - keep))
    got = run_graph(g, {"x": x})
    axes = tuple(range(keep, 3))
    np.testing.assert_allclose(got["mean"], x.mean(axis=axes, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(got["inv_std"], 1 / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5), rtol=1e-5)


def test_layer_norm_one_statistic_read_symbolic_batch():
    # only InvStdDev is read: the op still has three results, the batch dim stays symbolic
    g = check_model(_layer_norm_model(("inv_std",), (3, 8), symbolic_batch=True), {"x": rand(3, 8)}, atol=ATOL)
    op = g.find("y")
    assert len(op.results) == 3 and op.results[2].type == tensor(("N", 1))


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_layer_norm_statistics_are_float32_for_other_inputs(dtype):
    x = rand(2, 3, 8, scale=2.0).astype(dtype)
    tol = 1e-3 if dtype == np.float16 else ATOL
    g = check_model(_layer_norm_model(("mean", "inv_std"), x.shape, 1, dtype), {"x": x}, rtol=tol, atol=tol)
    got = run_graph(g, {"x": x})
    assert got["y"].dtype == dtype and got["mean"].dtype == got["inv_std"].dtype == np.float32


def test_layer_norm_statistics_text_form():
    g = parse_text("""func @main(%x: tensor<2x4xf32>, %w: tensor<4xf32>) -> (tensor<2x4xf32>, tensor<2x1xf32>, tensor<2x1xf32>) {
  %y, %m, %r = layer_norm(%x, %w) {axis=1, stats=1} : tensor<2x4xf32>, tensor<2x1xf32>, tensor<2x1xf32>
  return %y, %m, %r
}
""")
    x = rand(2, 4, shift=5.0)
    out = run_graph(g, {"x": x, "w": np.ones(4, np.float32)})
    np.testing.assert_allclose(out["m"], x.mean(1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(out["y"], (x - out["m"]) * out["r"], rtol=1e-5, atol=ATOL)


def test_layer_norm_read_statistics_with_other_stash_type_are_refused():
    with pytest.raises(IRError, match=r"node 'ln' \(LayerNormalization\): stash_type=11 is not supported"):
        import_onnx(_layer_norm_model(("mean",), stash_type=11))


def test_layer_norm_verify_errors():
    defn = get_op("layer_norm")
    with pytest.raises(VerifyError, match=r"operand scale of shape \[5\] does not broadcast to \[3,4\]"):
        defn.infer_types([tensor((2, 3, 4)), tensor((5,))], {"axis": 1})
    with pytest.raises(VerifyError, match="axis 3 out of range for rank 3"):
        defn.infer_types([tensor((2, 3, 4)), tensor((4,))], {"axis": 3})
    with pytest.raises(VerifyError, match="takes float operands"):
        defn.infer_types([tensor((2, 4), "i32"), tensor((4,), "i32")], {})
    with pytest.raises(VerifyError, match="stats must be 0 .* or 1"):
        defn.infer_types([tensor((2, 4)), tensor((4,))], {"stats": 2})


# -- softmax, log_softmax -------------------------------------------------------------------------

@pytest.mark.parametrize("op_type", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [None, 0, 1, -2])
def test_softmax_axes(op_type, axis):
    attrs = {} if axis is None else {"axis": axis}
    g = check_node(op_type, {"x": rand(3, 4, 5, scale=3.0)}, attrs)
    assert g.find("y0").attrs["axis"] == (2 if axis is None else axis % 3)


@pytest.mark.parametrize("op_type", ["Softmax", "LogSoftmax"])
def test_softmax_large_values_are_stable(op_type):
    # exp(1e4) overflows float32: only a max-subtracting kernel gets finite results here
    x = np.array([[1e4, 1e4 + 1, 1e4 + 2, -1e4], [0.0, 1.0, 2.0, 3.0]], dtype=np.float32)
    g = check_node(op_type, {"x": x}, symbolic_batch=True)
    y = run_graph(g, {"x": x})["y0"]
    assert np.isfinite(y).all()


def test_softmax_text_form_and_negative_axis():
    g = parse_text("""func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
  %y = softmax(%x) {axis=-2} : tensor<2x3xf32>
  return %y
}
""")
    x = rand(2, 3)
    e = np.exp(x - x.max(0))
    np.testing.assert_allclose(run_graph(g, {"x": x})["y"], e / e.sum(0), rtol=1e-6)


def test_softmax_verify_errors():
    with pytest.raises(VerifyError, match="axis -3 out of range for rank 2"):
        get_op("softmax").infer_types([tensor((2, 3))], {"axis": -3})
    with pytest.raises(VerifyError, match="log_softmax takes float operands"):
        get_op("log_softmax").infer_types([tensor((2, 3), "i64")], {})


def test_old_opsets_are_upgraded():
    # opset 11 Softmax flattened the input at `axis` (default 1); on a 2-D input that is the
    # same as opset 13's last axis, and the version converter leaves a plain Softmax
    g = check_node("Softmax", {"x": rand(3, 7)}, opset=11)
    assert [op.name for op in g.ops if op.name != "const"] == ["softmax"]
    c = 4
    check_node("BatchNormalization", {"x": rand(2, c, 3), "s": rand(c), "b": rand(c), "m": rand(c),
                                      "v": positive(c)}, constants=("s", "b", "m", "v"), opset=9, atol=ATOL)


@pytest.mark.parametrize("op_type", ["Softmax", "LayerNormalization"])
def test_float16_computes_in_float32(op_type):
    x = rand(2, 3, 16, scale=2.0).astype(np.float16)
    inputs = {"x": x} if op_type == "Softmax" else {"x": x, "w": rand(16).astype(np.float16)}
    g = check_node(op_type, inputs, constants=("w",), rtol=1e-3, atol=1e-3)
    assert run_graph(g, {"x": x})["y0"].dtype == np.float16
