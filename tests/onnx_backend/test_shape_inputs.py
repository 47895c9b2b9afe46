"""Shape-like parameters fed as graph inputs: the importer names them, irc.backend specializes.

The importer raises ConstantInputsNeeded naming every graph input that parameters irc keeps as
attributes come from (all found in one pass); `irc import` reports it as one error; irc.backend
binds those inputs to the values of each run, imports once per distinct value, and matches
onnxruntime.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import irc.backend
from irc.backends.onnx import import_onnx
from irc.backends.onnx.importer import ConstantInputsNeeded
from irc.cli import main
from irc.ir import IRError

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


def _reshape_clip_model() -> onnx.ModelProto:
    """Reshape(x, shape) and Clip(z, lo, hi) side by side: three graph inputs irc needs."""
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape"),
             helper.make_node("Clip", ["z", "lo", "hi"], ["w"], name="clip")]
    return _model(nodes, [_vi("x", TensorProto.FLOAT, [2, 6]), _vi("shape", TensorProto.INT64, [2]),
                          _vi("z", TensorProto.FLOAT, [5]), _vi("lo", TensorProto.FLOAT, []),
                          _vi("hi", TensorProto.FLOAT, [])],
                  [_vi("y", TensorProto.FLOAT, None), _vi("w", TensorProto.FLOAT, [5])])


def test_importer_names_every_needed_input_in_one_pass():
    with pytest.raises(ConstantInputsNeeded) as info:
        import_onnx(_reshape_clip_model())
    assert info.value.names == ("shape", "lo", "hi")
    msg = str(info.value)
    assert msg.startswith("2 nodes need graph input(s) 'shape', 'lo', 'hi' as constants:")
    assert "node 'reshape' (Reshape): input 1 (shape) must be a constant: irc needs it at import, " \
           "but it is the graph input 'shape'" in msg
    assert "node 'clip' (Clip): input 1 (min) must be a constant: irc needs it at import, but it is the " \
           "graph input 'lo'; input 2 (max) must be a constant" in msg


def test_backend_specializes_and_caches_per_value():
    model = _reshape_clip_model()
    rep = irc.backend.prepare(model)
    assert rep.graph is None and rep.bound == ["shape", "lo", "hi"]
    x, z = RNG.standard_normal((2, 6)).astype(np.float32), RNG.standard_normal(5).astype(np.float32)
    lo, hi = np.array(-0.5, np.float32), np.array(0.5, np.float32)
    for shape in ([3, 4], [-1, 2], [3, 4]):
        feeds = {"x": x, "shape": np.array(shape, np.int64), "z": z, "lo": lo, "hi": hi}
        got = rep.run([feeds[vi.name] for vi in model.graph.input])
        for g, e in zip(got, _ort(model, feeds)):
            assert g.shape == e.shape and g.dtype == e.dtype
            np.testing.assert_array_equal(g, e)
    assert rep.specializations == 2  # [3, 4] was imported once and reused


def test_needs_found_behind_a_bound_input_are_bound_too():
    # the Slice waits on the Reshape, so its starts are found only once shape is bound
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("Slice", ["r", "starts", "ends"], ["y"])]
    model = _model(nodes, [_vi("x", TensorProto.FLOAT, [4, 6]), _vi("shape", TensorProto.INT64, [2]),
                           _vi("starts", TensorProto.INT64, [1]), _vi("ends", TensorProto.INT64, [1])],
                   [_vi("y", TensorProto.FLOAT, None)])
    with pytest.raises(ConstantInputsNeeded) as info:
        import_onnx(model)
    assert info.value.names == ("shape",)
    feeds = {"x": RNG.standard_normal((4, 6)).astype(np.float32), "shape": np.array([8, 3], np.int64),
             "starts": np.array([2], np.int64), "ends": np.array([-1], np.int64)}
    rep = irc.backend.prepare(model)
    np.testing.assert_array_equal(rep.run(feeds)[0], _ort(model, feeds)[0])
    assert rep.bound == ["shape", "starts", "ends"]


def test_parameter_computed_from_graph_inputs():
    # the target shape is Concat(a, b): both inputs are needed, and named as its sources
    nodes = [helper.make_node("Concat", ["a", "b"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")]
    model = _model(nodes, [_vi("x", TensorProto.FLOAT, [2, 6]), _vi("a", TensorProto.INT64, [1]),
                           _vi("b", TensorProto.INT64, [1])], [_vi("y", TensorProto.FLOAT, None)])
    with pytest.raises(ConstantInputsNeeded, match=r"computed at run time from the graph input\(s\) 'a', 'b'"):
        import_onnx(model)
    feeds = {"x": RNG.standard_normal((2, 6)).astype(np.float32), "a": np.array([4], np.int64),
             "b": np.array([3], np.int64)}
    np.testing.assert_array_equal(irc.backend.run_model(model, feeds)[0], _ort(model, feeds)[0])


def test_run_time_shapes_are_not_specialized():
    # the repeats are x's shape, whose batch dim is symbolic: no graph input fixes them
    nodes = [helper.make_node("Shape", ["x"], ["repeats"]),
             helper.make_node("Tile", ["z", "repeats"], ["y"])]
    model = _model(nodes, [_vi("x", TensorProto.FLOAT, ["N", 2]), _vi("z", TensorProto.FLOAT, [4, 4])],
                   [_vi("y", TensorProto.FLOAT, None)])
    with pytest.raises(IRError, match=r"input 1 \(repeats\) must be a constant: it is computed at run "
                                      r"time as \[N, 2\]") as info:
        irc.backend.prepare(model)
    assert not isinstance(info.value, ConstantInputsNeeded)


def test_bound_input_of_the_wrong_type_is_one_clear_error():
    rep = irc.backend.prepare(_reshape_clip_model())
    feeds = {"x": np.zeros((2, 6), np.float32), "shape": np.array([3.0, 4.0]), "z": np.zeros(5, np.float32),
             "lo": np.array(0, np.float32), "hi": np.array(1, np.float32)}
    with pytest.raises(IRError, match=r"graph input 'shape': got a float64 array, the model declares int64"):
        rep.run(feeds)
    feeds["shape"] = np.array([3, 4, 1], np.int64)
    with pytest.raises(IRError, match=r"graph input 'shape': got shape \[3\], the model declares \[2\]"):
        rep.run(feeds)


def test_cli_import_names_the_inputs(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    path.write_bytes(_reshape_clip_model().SerializeToString())
    out = tmp_path / "m.ir"
    assert main(["import", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("irc import: error: 2 nodes need graph input(s) 'shape', 'lo', 'hi' as constants")
    assert "Traceback" not in err and not out.exists()


def test_parameters_import_can_work_out_are_not_requested():
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
    rep = irc.backend.prepare(model)
    assert rep.graph is not None and rep.bound == []
    feeds = {"x": np.arange(5, dtype=np.float32), "n": np.array([7], np.int64)}
    for g, e in zip(rep.run(feeds), _ort(model, feeds)):
        np.testing.assert_array_equal(g, e)
