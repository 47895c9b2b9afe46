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

from .onnx_check import check_model, check_node, make_node_model

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


def test_batch_norm_training_mode_is_refused():
    c = 3
    m = make_node_model("BatchNormalization", {"x": rand(2, c, 4), "s": rand(c), "b": rand(c),
                                               "m": rand(c), "v": positive(c)},
                        {"training_mode": 1}, n_outputs=3)
    with pytest.raises(IRError, match=r"\(BatchNormalization\): training_mode=1 is not supported"):
        import_onnx(m)


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


def _layer_norm_model(read_stats: bool) -> onnx.ModelProto:
    """A LayerNormalization whose Mean output is a graph output, or named but read by nothing."""
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 6])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 6])
    outputs = [y] + ([helper.make_tensor_value_info("mean", onnx.TensorProto.FLOAT, [2, 1])] if read_stats else [])
    node = helper.make_node("LayerNormalization", ["x", "w"], ["y", "mean", "inv_std"], name="ln")
    w = onnx.numpy_helper.from_array(rand(6), "w")
    m = helper.make_model(helper.make_graph([node], "g", [x], outputs, [w]),
                          opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    return m


def test_layer_norm_unread_statistics_outputs_are_ignored():
    check_model(_layer_norm_model(read_stats=False), {"x": rand(2, 6)}, atol=ATOL)


def test_layer_norm_read_statistics_outputs_are_refused():
    with pytest.raises(IRError, match=r"node 'ln' \(LayerNormalization\): output\(s\) 'mean' .* read by the model"):
        import_onnx(_layer_norm_model(read_stats=True))


def test_layer_norm_verify_errors():
    defn = get_op("layer_norm")
    with pytest.raises(VerifyError, match=r"operand scale of shape \[5\] does not broadcast to \[3,4\]"):
        defn.infer_types([tensor((2, 3, 4)), tensor((5,))], {"axis": 1})
    with pytest.raises(VerifyError, match="axis 3 out of range for rank 3"):
        defn.infer_types([tensor((2, 3, 4)), tensor((4,))], {"axis": 3})
    with pytest.raises(VerifyError, match="takes float operands"):
        defn.infer_types([tensor((2, 4), "i32"), tensor((4,), "i32")], {})


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
