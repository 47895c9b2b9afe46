"""What the onnx-qdq backend writes, node by node (specs/quantization.md §5)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

from irc.backends.onnx import export_onnx
from irc.backends.onnx.qdq import QDQWarning, export_qdq
from irc.ir import IRError, print_graph
from irc.ir.types import QuantType, tensor

from .cases import CASES
from .qdq_check import check_qdq, dq_readers, run_ort
from .qdq_graphs import QBuilder


def _inits(model):
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _producer(model, name):
    return next(n for n in model.graph.node if name in n.output)


def _attr(node, key):
    return next((onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == key), None)


def test_weights_int8_per_channel_bias_int32_activations_u8():
    c = CASES["conv_relu"]()
    model = export_qdq(c.graph)
    inits = _inits(model)
    w, b = inits["conv1.weight"], inits["conv1.bias"]
    assert w.dtype == np.int8 and w.shape == (8, 3, 3, 3)
    assert b.dtype == np.int32 and b.shape == (8,)
    wdq = next(n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == "conv1.weight")
    assert _attr(wdq, "axis") == 0
    scale, zp = inits[wdq.input[1]], inits[wdq.input[2]]
    assert scale.dtype == np.float32 and scale.shape == (8,)
    assert zp.dtype == np.int8 and not zp.any()
    bdq = next(n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == "conv1.bias")
    assert _attr(bdq, "axis") == 0 and inits[bdq.input[2]].dtype == np.int32
    q = _producer(model, "conv1")
    assert q.op_type == "QuantizeLinear"
    assert inits[q.input[1]].shape == () and inits[q.input[2]].dtype == np.uint8
    assert inits[q.input[2]] == c.graph.find("conv1").result.type.quant.zero_point
    # the conv reads its DQs and writes the float tensor the Q reads; no Relu node
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    assert [_producer(model, i).op_type for i in conv.input] == ["DequantizeLinear"] * 3
    assert conv.output[0] == q.input[0]
    assert not [n for n in model.graph.node if n.op_type in ("Relu", "Clip")]


def test_each_reader_gets_its_own_dequantize():
    """add(%q, %q) reads two DQs; a value read by three ops and returned has four."""
    b = QBuilder(seed=11)
    q = b.quantize(b.input((4, 3, 3), "x"), "xq")
    twice = b.op("add", [q, q], "twice", result="requant")
    c = CASES["shared_value_and_quantized_outputs"]()
    for graph in (b.finish([b.dequantize(twice, "y")]), c.graph):
        model = export_qdq(graph)
        assert set(dq_readers(model).values()) == {1}
    model = export_qdq(c.graph)
    stem_dqs = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == "stem_q"]
    assert len(stem_dqs) == 4  # left, right, stem_t and the graph output


def test_quantized_graph_output_is_a_float_output_of_the_same_name():
    c = CASES["shared_value_and_quantized_outputs"]()
    model = export_qdq(c.graph)
    assert [o.name for o in model.graph.output] == ["stem", "left_f", "right", "stem_t_f"]
    assert {o.type.tensor_type.elem_type for o in model.graph.output} == {TensorProto.FLOAT}
    assert _producer(model, "stem").op_type == "DequantizeLinear"
    stem = run_ort(model, c.feeds)[0]
    qt = c.graph.outputs[0].type.quant
    # the real values lie on the output's grid
    steps = stem / np.float32(qt.scale) + qt.zero_point
    np.testing.assert_allclose(steps, np.rint(steps), atol=1e-3)


def test_quantized_graph_input_takes_stored_integers():
    b = QBuilder(seed=12)
    qt = QuantType.per_tensor("u8", 0.02, 128)
    x = b.g.add_input(tensor((2, 3, 5, 5), qt), "xq")
    b.samples[id(x)] = np.zeros((2, 3, 5, 5), np.float32)
    c = b.conv(x, 4, 3, "conv1", pad=1)
    graph = b.finish([b.dequantize(c, "y")])
    model = export_qdq(graph)
    assert model.graph.input[0].name == "xq"
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.UINT8
    feeds = {"xq": np.random.default_rng(0).integers(0, 256, (2, 3, 5, 5), dtype=np.uint8)}
    result = check_qdq(graph, feeds)
    assert result.report["all"]["int8_kernels"] == {"QLinearConv": 1}


def test_float_graph_is_written_as_the_fp32_exporter_writes_it():
    b = QBuilder(seed=13)
    x = b.input((6,), "x")
    s = b.op("softmax", [b.op("sigmoid", [x], "s", result="float")], "y", {"axis": 1}, result="float")
    graph = b.finish([s])
    qdq, fp32 = export_qdq(graph), export_onnx(graph)
    assert [(n.op_type, list(n.input), list(n.output)) for n in qdq.graph.node] == \
           [(n.op_type, list(n.input), list(n.output)) for n in fp32.graph.node]


def test_export_leaves_the_graph_as_it_was():
    for name in ("depthwise_relu6", "i8_activations_relu_kept", "float_ops_between_int8"):
        graph = CASES[name]().graph
        before = print_graph(graph)
        export_qdq(graph, warn=lambda m: None)
        assert print_graph(graph) == before, name


def test_redundant_activation_rule():
    relu_u8 = QuantType.per_tensor("u8", 0.05, 0)
    assert relu_u8.saturation_clamps(0.0, np.inf)
    assert not QuantType.per_tensor("u8", 0.05, 3).saturation_clamps(0.0, np.inf)
    assert not QuantType.per_tensor("i8", 0.05, 0).saturation_clamps(0.0, np.inf)
    six = QuantType.per_tensor("u8", np.float32(6) / np.float32(255), 0)
    assert six.saturation_clamps(0.0, 6.0)
    assert not six.saturation_clamps(0.0, 5.0)  # q(5) = 213 < 255: the clip still clamps
    assert six.saturation_clamps(-1.0, 7.0)  # a wider clip than the range saturation gives


def test_non_redundant_activation_is_clamped_after_the_int8_op():
    c = CASES["i8_activations_relu_kept"]()
    with pytest.warns(QDQWarning, match="conv conv1: .* does not make the fused relu"):
        model = export_qdq(c.graph)
    chain = []
    name = model.graph.output[0].name
    while True:
        node = _producer(model, name)
        chain.append(node.op_type)
        if node.op_type == "Conv":
            break
        name = node.input[0]
    assert chain[::-1] == ["Conv", "QuantizeLinear", "DequantizeLinear", "Relu", "QuantizeLinear",
                           "DequantizeLinear"]


def test_clip_narrower_than_the_range_clamps_with_its_bounds():
    b = QBuilder(seed=14)
    q = b.quantize(b.input((3, 6, 6), "x"), "xq")
    c = b.conv(q, 8, 3, "conv1", pad=1, activation=("clip", -0.25, 0.5), qt=QuantType.per_tensor("u8", 0.01, 100))
    graph = b.finish([b.dequantize(c, "y")])
    result = check_qdq(graph, b.feeds, warnings_expected=True)
    clip = next(n for n in result.model.graph.node if n.op_type == "Clip")
    inits = _inits(result.model)
    assert (float(inits[clip.input[1]]), float(inits[clip.input[2]])) == (-0.25, 0.5)
    y = result.outputs[0]
    assert y.min() >= -0.25 - 1e-6 and y.max() <= 0.5 + 1e-6
    assert result.report["all"]["int8_kernels"]["QLinearConv"] == 1


def test_dilated_average_pool_on_quantized_values_is_refused():
    b = QBuilder(seed=15)
    q = b.quantize(b.input((2, 7, 7), "x"), "xq")
    p = b.op("average_pool", [q], "avg", {"kernel_shape": [2, 2], "dilations": [2, 2]}, result="requant")
    with pytest.raises(IRError, match="avg: a dilated average pool on quantized values"):
        export_qdq(b.finish([b.dequantize(p, "y")]))


def test_quantized_constant_with_wrong_stored_values_is_refused():
    b = QBuilder(seed=16)
    q = b.quantize(b.input((3,), "x"), "xq")
    qt = QuantType.per_tensor("u8", 0.1, 0)
    w = b.g.const(np.full((3, 3), 300, np.int64), "w", type=tensor((3, 3), qt), inline=False)
    m = b.g.create("matmul", [q, w], names=["m"]).result
    b.g.set_outputs([m])
    with pytest.raises(IRError, match="constant w: stored values of dtype int64 do not fit"):
        export_qdq(b.g)


def test_fp32_exporters_see_a_float_op(monkeypatch):
    """The fp32 exporter of a quantized op sees f32 types and no fused activation (the backend
    owns both); afterwards the op is as it was."""
    from irc.backends.onnx.registry import EXPORTERS

    seen = []
    original = EXPORTERS["conv"]

    def spy(ctx, op):
        seen.append(([str(v.type.element) for v in [*op.operands, *op.results]], dict(op.attrs)))
        original(ctx, op)

    monkeypatch.setitem(EXPORTERS, "conv", spy)
    graph = CASES["depthwise_relu6"]().graph
    export_qdq(graph)
    assert len(seen) == 3
    for elements, attrs in seen:
        assert set(elements) == {"f32"}
        assert not {"activation", "activation_min", "activation_max"} & set(attrs)
    assert graph.find("dw").attrs["activation"] == "clip"


def test_quantized_pad_fills_with_the_real_value():
    """pad's exporter builds its fill value from the operand's dtype: it must be float here."""
    b = QBuilder(seed=17)
    q = b.quantize(b.input((2, 4, 4), "x", lo=0.5, hi=1.0), "xq")
    p = b.op("pad", [q], "padded", {"pads": [0, 0, 1, 1, 0, 0, 1, 1], "value": 0.75})
    graph = b.finish([b.dequantize(p, "y")])
    result = check_qdq(graph, b.feeds)
    y = result.outputs[0]
    border = np.concatenate([y[:, :, 0, :].ravel(), y[:, :, -1, :].ravel()])
    np.testing.assert_allclose(border, 0.75, atol=graph.find("xq").result.type.quant.scale)


def test_shape_reads_the_stored_integers_not_a_dequantize():
    from irc.ir import parse_text

    text = ("func @main(%x: tensor<2x3xf32>) -> (tensor<2xi64>, tensor<2x3xf32>) {\n"
            "  %q = quantize(%x) : tensor<2x3x!q.u8<0.1:128>>\n"
            "  %d = dequantize(%q) : tensor<2x3xf32>\n"
            "  %s = shape(%d) : tensor<2xi64>\n"
            "  return %s, %d\n}\n")
    model = export_qdq(parse_text(text))
    (shape,) = [n for n in model.graph.node if n.op_type == "Shape"]
    assert shape.input[0] == "q"
    assert sum(n.op_type == "DequantizeLinear" for n in model.graph.node) == 1  # the float output's
    out = run_ort(model, {"x": np.ones((2, 3), np.float32)})
    assert list(out[0]) == [2, 3]
