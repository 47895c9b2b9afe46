"""Shape-like parameters known only at run time: fed as graph inputs, or computed from them or
from run-time shapes. Reshape, Expand, Slice and Tile take them as operands; other such nodes
import as generic ops. Both run like onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

import irc.onnx_backend
from irc.backends.onnx import export_onnx, import_onnx
from irc.cli import main
from irc.ir import parse_text, print_graph

RNG = np.random.default_rng(3)


def _model(nodes, inputs, outputs) -> onnx.ModelProto:
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs),
                          opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    return m


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def _ort(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _same(got, expected):
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)


def _reshape_clip_model() -> onnx.ModelProto:
    """Reshape(x, shape) and Clip(z, lo, hi) side by side, their parameters graph inputs."""
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape"),
             helper.make_node("Clip", ["z", "lo", "hi"], ["w"], name="clip")]
    return _model(nodes, [_vi("x", TensorProto.FLOAT, [2, 6]), _vi("shape", TensorProto.INT64, [2]),
                          _vi("z", TensorProto.FLOAT, [5]), _vi("lo", TensorProto.FLOAT, []),
                          _vi("hi", TensorProto.FLOAT, [])],
                  [_vi("y", TensorProto.FLOAT, None), _vi("w", TensorProto.FLOAT, [5])])


def test_parameters_fed_as_inputs_are_operands_or_generic_ops_and_run_like_onnxruntime():
    model = _reshape_clip_model()
    graph = import_onnx(model)
    assert [op.name for op in graph.ops] == ["reshape", "onnx.Clip"]
    assert [v.name for v in graph.ops[0].operands] == ["x", "shape"]
    assert any("(Clip): input 1 (min) is not a constant" in n for n in graph.import_notes)
    rep = irc.onnx_backend.prepare(model)
    x, z = RNG.standard_normal((2, 6)).astype(np.float32), RNG.standard_normal(5).astype(np.float32)
    lo, hi = np.array(-0.5, np.float32), np.array(0.5, np.float32)
    exported = export_onnx(graph)
    for shape in ([3, 4], [-1, 2], [12, 1]):
        feeds = {"x": x, "shape": np.array(shape, np.int64), "z": z, "lo": lo, "hi": hi}
        expected = _ort(model, feeds)
        _same(rep.run([feeds[vi.name] for vi in model.graph.input]), expected)
        _same(_ort(exported, feeds), expected)


def test_parameter_computed_from_graph_inputs():
    nodes = [helper.make_node("Concat", ["a", "b"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")]
    model = _model(nodes, [_vi("x", TensorProto.FLOAT, [2, 6]), _vi("a", TensorProto.INT64, [1]),
                           _vi("b", TensorProto.INT64, [1])], [_vi("y", TensorProto.FLOAT, None)])
    graph = import_onnx(model)
    assert [op.name for op in graph.ops] == ["concat", "reshape"]
    feeds = {"x": RNG.standard_normal((2, 6)).astype(np.float32), "a": np.array([4], np.int64),
             "b": np.array([3], np.int64)}
    _same(irc.onnx_backend.run_model(model, feeds), _ort(model, feeds))


def test_run_time_shapes_as_parameters():
    # the repeats are x's shape, whose batch dim is symbolic
    nodes = [helper.make_node("Shape", ["x"], ["repeats"]),
             helper.make_node("Tile", ["z", "repeats"], ["y"])]
    model = _model(nodes, [_vi("x", TensorProto.FLOAT, ["N", 2]), _vi("z", TensorProto.FLOAT, [4, 4])],
                   [_vi("y", TensorProto.FLOAT, None)])
    graph = import_onnx(model)
    tile = graph.ops[-1]
    assert tile.name == "tile" and [v.name for v in tile.operands] == ["z", "repeats"]
    for n in (1, 3):
        feeds = {"x": np.zeros((n, 2), np.float32), "z": RNG.standard_normal((4, 4)).astype(np.float32)}
        _same(irc.onnx_backend.run_model(model, feeds), _ort(model, feeds))


def test_cli_import_writes_the_run_time_forms(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    path.write_bytes(_reshape_clip_model().SerializeToString())
    out = tmp_path / "m.ir"
    assert main(["import", str(path), "-o", str(out)]) == 0
    text = out.read_text()
    assert "%y = reshape(%x, %shape) : tensor<" in text and "%w = onnx.Clip(%z, %lo, %hi) : tensor<5xf32>" in text
    assert print_graph(parse_text(text)) == text


def test_parameters_import_can_work_out_stay_declared_ops():
    # Slice's starts pick the constant half of Concat([1], n): import knows them without n
    nodes = [helper.make_node("Concat", ["one", "n"], ["pair"], axis=0),
             helper.make_node("Gather", ["pair", "first"], ["starts"], axis=0),
             helper.make_node("Slice", ["x", "starts", "ends"], ["y"]),
             helper.make_node("Add", ["pair", "pair"], ["p2"])]
    inits = [onnx.numpy_helper.from_array(np.array([1], np.int64), "one"),
             onnx.numpy_helper.from_array(np.array([0], np.int64), "first"),
             onnx.numpy_helper.from_array(np.array([3], np.int64), "ends")]
    model = _model(nodes, [_vi("x", TensorProto.FLOAT, [5]), _vi("n", TensorProto.INT64, [1])],
                   [_vi("y", TensorProto.FLOAT, [2]), _vi("p2", TensorProto.INT64, [2])])
    model.graph.initializer.extend(inits)
    graph = import_onnx(model)
    assert not any(op.name.startswith("onnx.") for op in graph.ops)
    feeds = {"x": np.arange(5, dtype=np.float32), "n": np.array([7], np.int64)}
    _same(irc.onnx_backend.run_model(model, feeds), _ort(model, feeds))
