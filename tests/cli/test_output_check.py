"""irc checks what it writes: onnxruntime (default session options) loads and runs the emitted
model next to its reference; a refused model, or one that runs to NaN, fails the command (exit 2)
and is kept beside the output as OUT.rejected.onnx, with nothing written at OUT."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import irc
from irc.cli import main

RNG = np.random.default_rng(11)


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _log_after_conv_model() -> onnx.ModelProto:
    """y = log(conv1x1(x) + 0.001): in int8 the conv's small outputs round to 0 and log gives -inf."""
    inits = [numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w"),
             numpy_helper.from_array(np.array([1e-3], np.float32), "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"]), helper.make_node("Log", ["c"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 4, 4])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_quantize_reports_the_check_in_the_summary_and_json(tmp_path, capsys):
    out = tmp_path / "r.int8.onnx"
    code, stdout, err = _run(capsys, "quantize", "examples/models/digits_resnet.onnx", "--calib",
                             "examples/data/digits-cls/calib", "--preprocess", "examples/models/digits_cls.toml",
                             "-o", str(out), "--json")
    assert code == 0, err
    check = json.loads(stdout)["check"]
    assert check["engine"].startswith("onnxruntime ") and check["engine"].endswith("(default session options)")
    assert check["samples"] == 8 and check["cosine"]["logits"] > 0.99


def test_a_model_that_runs_to_nan_is_rejected_and_kept_aside(tmp_path, capsys):
    model = tmp_path / "m.onnx"
    onnx.save(_log_after_conv_model(), model)
    x = RNG.uniform(0, 2, (16, 1, 4, 4)).astype(np.float32)
    x[0] = 0.0  # the first calibration batch holds exact zeros
    np.savez(tmp_path / "calib.npz", x=x)
    out = tmp_path / "m.int8.onnx"
    code, _, err = _run(capsys, "quantize", str(model), "--calib", str(tmp_path / "calib.npz"), "-o", str(out),
                        "--no-speed-check")  # the int8 model as quantize made it, however fast
    assert code == 2 and "Traceback" not in err
    assert "the int8 model runs to NaN or infinity in onnxruntime: output 'y' has 16 non-finite value(s) of 128 " \
           "where the fp32 model's are finite" in err
    assert not out.exists()
    kept = tmp_path / "m.int8.rejected.onnx"
    assert f"the refused model is kept as {kept}" in err
    ort.InferenceSession(str(kept), providers=["CPUExecutionProvider"])  # the model itself, for a bug report


def test_emit_of_a_model_onnxruntime_refuses_fails_and_keeps_it(tmp_path, capsys):
    ir = tmp_path / "m.ir"
    ir.write_text("func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {\n"
                  "  %y = onnx.Relu(%x) {bogus=1} : tensor<4xf32>\n  return %y\n}\n")
    out = tmp_path / "m.onnx"
    code, _, err = _run(capsys, "emit", str(ir), "-o", str(out))
    assert code == 2 and "Traceback" not in err
    assert "onnxruntime refuses the written model at load (default session options)" in err and "bogus" in err
    assert not out.exists() and (tmp_path / "m.rejected.onnx").exists()


def test_emit_with_inputs_compares_with_the_interpreter(tmp_path, capsys):
    ir = tmp_path / "r.ir"
    assert main(["import", "examples/models/digits_resnet.onnx", "-o", str(ir)]) == 0
    np.savez(tmp_path / "x.npz", input=RNG.standard_normal((2, 1, 32, 32)).astype(np.float32))
    code, _, err = _run(capsys, "emit", str(ir), "-o", str(tmp_path / "r.onnx"), "--inputs", str(tmp_path / "x.npz"))
    assert code == 0, err
    assert "ran it on 2 sample(s); cosine to the interpreter: logits 1.0000" in err


def test_resize_on_int8_values_loads_at_the_default_optimization_level():
    """A resize of the spatial axes between two convs: written in the full-rank form, which
    onnxruntime's layout transformer for the NHWC int8 kernels handles (its `axes` form fails)."""
    inits = [numpy_helper.from_array(RNG.standard_normal((8, 3, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(RNG.standard_normal((4, 8, 3, 3)).astype(np.float32), "w2"),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Resize", ["b", "", "scales"], ["c"], mode="nearest"),
             helper.make_node("Conv", ["c", "w2"], ["y"], pads=[1, 1, 1, 1])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 32, 32])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    result = irc.quantize(m, {"x": RNG.standard_normal((8, 3, 16, 16)).astype(np.float32)})
    resize = next(n for n in result.model.graph.node if n.op_type == "Resize")
    assert "axes" not in {a.name for a in resize.attribute}
    assert result.check.cosine["y"] > 0.99
    sess = ort.InferenceSession(result.model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert sess.run(None, {"x": np.zeros((2, 3, 16, 16), np.float32)})[0].shape == (2, 4, 32, 32)
