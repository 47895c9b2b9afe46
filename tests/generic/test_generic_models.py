"""Models with ops irc has no declaration for: control flow (If, Loop, Scan) and another domain's
ops (com.microsoft). They import as generic ops, print and parse back to the same text, run in
the interpreter like onnxruntime, and export to models onnxruntime runs the same way."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as T
from onnx import helper

from irc.backends.numpy_interp import Interpreter
from irc.backends.onnx import export_onnx, import_onnx
from irc.ir import parse_text, print_graph, verify_graph

RNG = np.random.default_rng(7)


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def control_flow_model() -> onnx.ModelProto:
    """If (one branch with a com.microsoft op, one reading an outer constant), a Loop whose body
    reads an outer value, and a Range whose length is only known at run time (a declared op)."""
    then_b = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["t"])], "then_b", [],
                               [_vi("t", T.FLOAT, None)])
    else_b = helper.make_graph([helper.make_node("FastGelu", ["x"], ["e"], domain="com.microsoft")], "else_b",
                               [], [_vi("e", T.FLOAT, None)])
    body = helper.make_graph(
        [helper.make_node("Add", ["acc", "x"], ["acc2"]), helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Cast", ["i"], ["fi"], to=T.FLOAT), helper.make_node("Mul", ["acc2", "fi"], ["scan"])],
        "body", [_vi("i", T.INT64, []), _vi("cond_in", T.BOOL, []), _vi("acc", T.FLOAT, ["N", 4])],
        [_vi("cond_out", T.BOOL, []), _vi("acc2", T.FLOAT, ["N", 4]), _vi("scan", T.FLOAT, ["N", 4])])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             helper.make_node("Greater", ["s", "zero"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then_b, else_branch=else_b),
             helper.make_node("Loop", ["M", "", "x"], ["z", "zs"], body=body),
             helper.make_node("Range", ["zero_i", "M", "one_i"], ["r"])]
    inits = [helper.make_tensor("zero", T.FLOAT, [], [0.0]), helper.make_tensor("w", T.FLOAT, [4], [1, 2, 3, 4]),
             helper.make_tensor("zero_i", T.INT64, [], [0]), helper.make_tensor("one_i", T.INT64, [], [1])]
    g = helper.make_graph(nodes, "g", [_vi("x", T.FLOAT, ["N", 4]), _vi("M", T.INT64, [])],
                          [_vi("y", T.FLOAT, ["N", 4]), _vi("z", T.FLOAT, ["N", 4]), _vi("zs", T.FLOAT, [None, "N", 4]),
                           _vi("r", T.INT64, [None])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


def microsoft_model() -> onnx.ModelProto:
    """A transformer-style block of com.microsoft ops: FusedMatMul, BiasGelu, SkipLayerNormalization."""
    d = 8
    inits = [onnx.numpy_helper.from_array(RNG.standard_normal((d, d)).astype(np.float32), "w"),
             onnx.numpy_helper.from_array(RNG.standard_normal(d).astype(np.float32), "b"),
             onnx.numpy_helper.from_array(np.ones(d, np.float32), "gamma"),
             onnx.numpy_helper.from_array(np.zeros(d, np.float32), "beta")]
    nodes = [helper.make_node("FusedMatMul", ["x", "w"], ["h"], domain="com.microsoft", alpha=0.5, transB=1),
             helper.make_node("BiasGelu", ["h", "b"], ["g"], domain="com.microsoft"),
             helper.make_node("SkipLayerNormalization", ["g", "x", "gamma", "beta"], ["y"], domain="com.microsoft",
                              epsilon=1e-5)]
    g = helper.make_graph(nodes, "g", [_vi("x", T.FLOAT, ["B", "S", d])], [_vi("y", T.FLOAT, ["B", "S", d])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])


def _ort(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _check(model: onnx.ModelProto, feeds_list):
    graph = import_onnx(model)
    text = print_graph(graph)
    again = parse_text(text, weights=graph.weights)
    verify_graph(again)
    assert print_graph(again) == text
    exported = export_onnx(graph)
    for feeds in feeds_list:
        expected = _ort(model, feeds)
        got = Interpreter(again).run(feeds)
        for v, e in zip(again.outputs, expected):
            np.testing.assert_allclose(got[v.name], e, rtol=1e-6, atol=1e-6, err_msg=v.name)
        for a, e in zip(_ort(exported, feeds), expected):
            np.testing.assert_array_equal(a, e)
    return graph, text


def test_if_loop_and_range_import_round_trip_run_and_export():
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    feeds = [{"x": np.abs(x), "M": np.array(3)}, {"x": -np.abs(x), "M": np.array(2)}, {"x": x[:1], "M": np.array(0)}]
    graph, text = _check(control_flow_model(), feeds)
    assert [op.name for op in graph.ops if "." in op.name] == ["onnx.If", "onnx.Loop"]
    r = graph.find("r")
    assert r.name == "range" and str(r.result.type) == "tensor<?xi64>"
    loop = next(op for op in graph.ops if op.name == "onnx.Loop")
    assert loop.attrs["onnx.captures"] == 1 and loop.attrs["onnx.absent"] == (1,)
    assert [v.name for v in loop.operands] == ["M", "x", "x"]
    assert "com.microsoft.FastGelu(%x_1) {onnx.version=1}" in text


def test_microsoft_ops_import_round_trip_run_and_export():
    x = RNG.standard_normal((2, 5, 8)).astype(np.float32)
    graph, text = _check(microsoft_model(), [{"x": x}, {"x": x[:1, :3]}])
    assert [op.name for op in graph.ops if "." in op.name] == [
        "com.microsoft.FusedMatMul", "com.microsoft.BiasGelu", "com.microsoft.SkipLayerNormalization"]
    assert "transB=1" in text and "alpha=0.5" in text
    assert str(graph.outputs[0].type) == "tensor<[B]x[S]x8xf32>"


def test_nested_function_sees_only_its_own_values():
    text = """func @main(%c: tensor<bool>, %x: tensor<4xf32>) -> (tensor<4xf32>) {
  %y = onnx.If(%c) {else_branch=func @e() -> (tensor<4xf32>) {
    return %x
  }, then_branch=func @t() -> (tensor<4xf32>) {
    return %x
  }} : tensor<4xf32>
  return %y
}
"""
    with pytest.raises(Exception, match=r"<text>:3:12: error: use of undefined value %x"):
        parse_text(text)


def test_generic_op_names_and_typed_attributes_print_back():
    text = """func @main(%x: tensor<[N]x4xf32>) -> (tensor<*xf32>, tensor<?x4xf32>) {
  %a = "my-ops.Frob"(%x) {Mode="fast", onnx.version=3, sizes=[], t=dense<[1, 2]> : tensor<2xi32>} : tensor<*xf32>
  %b = onnx.ConstantOfShape(%x) {value=dense<[0.5]> : tensor<1xf64>} : tensor<?x4xf32>
  return %a, %b
}
"""
    g = parse_text(text)
    assert print_graph(g) == text
    frob = g.ops[0]
    assert frob.attrs["t"].dtype == np.int32 and frob.attrs["sizes"] == ()
    assert g.ops[1].attrs["value"].dtype == np.float64


def sequence_model() -> onnx.ModelProto:
    """SplitToSequence / SequenceAt / ConcatFromSequence around a conv-free float graph: values of
    sequence type between generic ops, tensors elsewhere."""
    w = onnx.numpy_helper.from_array(RNG.standard_normal((4, 4)).astype(np.float32), "w")
    one = onnx.numpy_helper.from_array(np.array(1, np.int64), "one")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("SplitToSequence", ["h"], ["parts"], axis=1),
             helper.make_node("SequenceAt", ["parts", "one"], ["second"]),
             helper.make_node("ConcatFromSequence", ["parts"], ["joined"], axis=1),
             helper.make_node("Add", ["joined", "second"], ["y"])]
    g = helper.make_graph(nodes, "g", [_vi("x", T.FLOAT, ["N", 4])], [_vi("y", T.FLOAT, ["N", 4])], [w, one])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_sequences_import_round_trip_run_and_export():
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    graph, text = _check(sequence_model(), [{"x": x}, {"x": x[:1]}])
    assert "= onnx.SplitToSequence(%h) {axis=1} : !seq<tensor<[N]x1xf32>>" in text
    assert [op.name for op in graph.ops if "." in op.name] == [
        "onnx.SplitToSequence", "onnx.SequenceAt", "onnx.ConcatFromSequence"]


def test_a_declared_op_refuses_a_sequence_operand():
    text = """func @main(%s: !seq<tensor<4xf32>>) -> (tensor<4xf32>) {
  %y = relu(%s) : tensor<4xf32>
  return %y
}
"""
    with pytest.raises(Exception, match=r"relu takes and gives tensors, not !seq<tensor<4xf32>>"):
        parse_text(text)


def test_a_model_with_sequences_quantizes_around_them():
    import irc

    result = irc.quantize(sequence_model(), {"x": RNG.standard_normal((16, 4)).astype(np.float32)})
    assert result.op_counts()["matmul"] == (1, 0)
    assert result.check.cosine["y"] > 0.99


def test_an_op_newer_than_opset_21_keeps_its_opset_through_quantization():
    """RMSNormalization exists from opset 23: the generic op records it, and the written model
    declares that opset (irc's own ops mean the same there); the matmuls around it go int8."""
    import irc
    from irc.backends.onnx.ort_kernels import ort_kernel_report

    inits = [onnx.numpy_helper.from_array(np.ones(8, np.float32), "s"),
             onnx.numpy_helper.from_array(RNG.standard_normal((8, 8)).astype(np.float32), "w"),
             onnx.numpy_helper.from_array(RNG.standard_normal((8, 8)).astype(np.float32), "w2")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("RMSNormalization", ["h", "s"], ["r"], axis=-1),
             helper.make_node("MatMul", ["r", "w2"], ["y"])]
    g = helper.make_graph(nodes, "g", [_vi("x", T.FLOAT, ["N", 8])], [_vi("y", T.FLOAT, ["N", 8])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 23)])
    m.ir_version = 10
    graph, text = _check(m, [{"x": RNG.standard_normal((3, 8)).astype(np.float32)}])
    assert "onnx.RMSNormalization(%h, %s) {axis=-1, onnx.version=23}" in text
    assert [o.version for o in export_onnx(graph).opset_import] == [23]
    result = irc.quantize(m, {"x": RNG.standard_normal((16, 8)).astype(np.float32)})
    assert [o.version for o in result.model.opset_import] == [23]
    ops = ort_kernel_report(result.model)["all"]["op_counts"]
    assert ops.get("QLinearMatMul", 0) + ops.get("MatMulIntegerToFloat", 0) == 2, ops
    assert result.check.cosine["y"] > 0.99
