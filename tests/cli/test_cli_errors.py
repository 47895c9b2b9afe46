"""Bad input through the command line: one clear message, exit code 2, nothing overwritten."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from irc.cli import main


def _identity_model(path):
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_malformed_ir_names_file_line_col(tmp_path, capsys):
    bad = tmp_path / "bad.ir"
    bad.write_text("func @main(%x: tensor<3xf32>) -> (tensor<3xf32>) {\n  %y = identity(%x) tensor<3xf32>\n  return %y\n}\n")
    code, _, err = run_cli(capsys, "opt", str(bad), "-o", str(tmp_path / "out.ir"))
    assert code == 2
    assert err.startswith(f"irc opt: {bad}:2:21: error: unexpected 'tensor', expected ':'")
    assert err.count("error:") == 1
    assert "%y = identity(%x) tensor<3xf32>" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out.ir").exists()


def test_ops_without_a_declaration_import_as_generic_ops(tmp_path, capsys):
    nodes = [helper.make_node("Identity", ["x"], ["a"], name="keep"),
             helper.make_node("Hardmax", ["a"], ["b"], name="hm1"),
             helper.make_node("Det", ["b"], ["y"], name="det")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    code, _, err = run_cli(capsys, "import", str(path), "-o", str(tmp_path / "m.ir"))
    assert code == 0, err
    text = (tmp_path / "m.ir").read_text()
    assert "= onnx.Hardmax(%" in text and "= onnx.Det(%b) : tensor<f32>" in text


def test_an_op_nothing_here_can_run_is_one_error_naming_it(tmp_path, capsys):
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="r"),
             helper.make_node("Frobnicate", ["a"], ["y"], name="frob", domain="acme.ops")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("acme.ops", 1)]),
              path)
    code, _, err = run_cli(capsys, "import", str(path), "-o", str(tmp_path / "m.ir"))
    assert code == 2 and "Traceback" not in err
    assert "node 'frob' (Frobnicate): nothing here can run it: onnxruntime cannot run it (" in err
    assert "onnx's reference implementation cannot run it" in err and err.count("\n") == 1
    assert not (tmp_path / "m.ir").exists()


def test_missing_weights_file(tmp_path, capsys):
    ir = tmp_path / "m.ir"
    ir.write_text("func @main() -> (tensor<3xf32>) {\n  %w = const @w : tensor<3xf32>\n  return %w\n}\n")
    code, _, err = run_cli(capsys, "opt", str(ir))
    assert code == 2 and "m.weights.npz is missing" in err


def test_external_data_outside_model_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.ones(3, np.float32).tobytes())
    w = numpy_helper.from_array(np.zeros(3, np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in {"location": "../secret.bin", "offset": "0", "length": "12"}.items():
        e = w.external_data.add()
        e.key, e.value = k, v
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])], [w])
    path = folder / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    code, _, err = run_cli(capsys, "import", str(path), "-o", str(tmp_path / "m.ir"))
    assert code == 2 and "points outside the model's folder" in err and "'../secret.bin'" in err


def test_inputs_with_wrong_name_or_shape(tmp_path, capsys):
    model = tmp_path / "m.onnx"
    _identity_model(model)
    ir = tmp_path / "m.ir"
    assert run_cli(capsys, "import", str(model), "-o", str(ir))[0] == 0
    np.savez(tmp_path / "wrong_name.npz", z=np.zeros((2, 3), np.float32))
    code, _, err = run_cli(capsys, "run", str(ir), "--inputs", str(tmp_path / "wrong_name.npz"), "-o", str(tmp_path / "y.npz"))
    assert code == 2 and "missing input(s) 'x'" in err and "unknown input(s) 'z'" in err
    np.savez(tmp_path / "wrong_shape.npz", x=np.zeros((2, 4), np.float32))
    code, _, err = run_cli(capsys, "run", str(ir), "--inputs", str(tmp_path / "wrong_shape.npz"), "-o", str(tmp_path / "y.npz"))
    assert code == 2 and "input 'x' has shape [2, 4] but the model expects tensor<[N]x3xf32>" in err
    np.savez(tmp_path / "wrong_kind.npz", x=np.zeros((2, 3), np.int64))  # integers for a float input
    code, _, err = run_cli(capsys, "run", str(ir), "--inputs", str(tmp_path / "wrong_kind.npz"), "-o", str(tmp_path / "y.npz"))
    assert code == 2 and "input 'x' has dtype int64 but the model expects tensor<[N]x3xf32>" in err
    np.savez(tmp_path / "f64.npz", x=np.zeros((2, 3), np.float64))  # another float type is cast
    assert run_cli(capsys, "run", str(ir), "--inputs", str(tmp_path / "f64.npz"), "-o", str(tmp_path / "y.npz"))[0] == 0


def test_output_may_not_overwrite_input(tmp_path, capsys):
    model = tmp_path / "m.onnx"
    _identity_model(model)
    before = model.read_bytes()
    code, _, err = run_cli(capsys, "import", str(model), "-o", str(model))
    assert code == 2 and "is the input model" in err and "irc never writes over what it reads" in err
    assert model.read_bytes() == before


def test_unknown_pass_lists_known_ones(tmp_path, capsys):
    model = tmp_path / "m.onnx"
    _identity_model(model)
    ir = tmp_path / "m.ir"
    run_cli(capsys, "import", str(model), "-o", str(ir))
    code, _, err = run_cli(capsys, "opt", "--pipeline=fold,nope", str(ir))
    assert code == 2 and "unknown pass 'nope'" in err and "known passes:" in err


def test_console_script_exit_code_without_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "irc.cli", "opt", str(tmp_path / "missing.ir")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "missing.ir: file not found" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "irc.cli", "--debug", "opt", str(tmp_path / "missing.ir")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_opt_without_pipeline_reproduces_both_files_byte_for_byte(tmp_path, capsys):
    from irc.zoo import realistic_light_model

    model = tmp_path / "squeezenet.onnx"
    onnx.save(realistic_light_model("squeezenet"), model)
    assert run_cli(capsys, "import", str(model), "-o", str(tmp_path / "a.ir"))[0] == 0
    assert run_cli(capsys, "opt", str(tmp_path / "a.ir"), "-o", str(tmp_path / "b.ir"))[0] == 0
    assert (tmp_path / "a.ir").read_bytes() == (tmp_path / "b.ir").read_bytes()
    assert (tmp_path / "a.weights.npz").read_bytes() == (tmp_path / "b.weights.npz").read_bytes()


def test_outputs_get_the_usual_file_mode(tmp_path):
    import os

    from irc.ir.weights_io import atomic_write_bytes

    mask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "out.bin", b"data")
    finally:
        os.umask(mask)
    assert (tmp_path / "out.bin").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("option, value, message", [
    ("--samples", "-5", "--samples must be 0 (all samples) or a positive count, got -5"),
    ("--batch-size", "0", "--batch-size must be at least 1, got 0"),
])
def test_quantize_count_options_name_themselves(tmp_path, capsys, option, value, message):
    model = tmp_path / "m.onnx"
    _identity_model(model)
    np.savez(tmp_path / "calib.npz", x=np.zeros((2, 3), np.float32))
    code, _, err = run_cli(capsys, "quantize", str(model), "--calib", str(tmp_path / "calib.npz"), option, value,
                           "-o", str(tmp_path / "q.onnx"))
    assert code == 2 and err == f"irc quantize: error: {message}\n"
    assert not (tmp_path / "q.onnx").exists()


def test_an_empty_onnx_file_is_named_as_such(tmp_path, capsys):
    (tmp_path / "empty.onnx").write_bytes(b"")
    code, _, err = run_cli(capsys, "import", str(tmp_path / "empty.onnx"), "-o", str(tmp_path / "m.ir"))
    assert code == 2 and err == f"irc import: error: {tmp_path / 'empty.onnx'}: not an ONNX model (the file is empty)\n"


@pytest.mark.parametrize("argv, message", [
    (["--speed-check", "--speed-threads", "-1"], "speed_threads must be 0"),
    (["--pipeline", "calibrate{method=entropy entropy-keep=120},quantize"], "'entropy-keep' must be in [0, 100]"),
])
def test_bad_quantize_options_are_one_message(tmp_path, capsys, argv, message):
    from pathlib import Path

    model = Path(__file__).resolve().parents[2] / "examples" / "models" / "digits_resnet.onnx"
    calib = tmp_path / "calib.npz"
    np.savez(calib, input=np.zeros((2, 1, 32, 32), np.float32))
    code, _, err = run_cli(capsys, "quantize", str(model), "--calib", str(calib), "-o", str(tmp_path / "q.onnx"), *argv)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "q.onnx").exists()


@pytest.mark.parametrize("command", ["quantize", "run", "emit"])
def test_a_model_path_names_its_format_by_its_suffix(tmp_path, capsys, command):
    """specs/cli.md, model files: .onnx or .ir in any case; neither suffix is one message, exit 2,
    whatever the file holds (here a valid ONNX model)."""
    model = tmp_path / "m.model"
    _identity_model(model)
    np.savez(tmp_path / "x.npz", x=np.ones((2, 3), np.float32))
    extra = {"quantize": ["--calib", str(tmp_path / "x.npz")], "run": ["--inputs", str(tmp_path / "x.npz")],
             "emit": ["--target=onnx"]}[command]
    out = tmp_path / ("y.npz" if command == "run" else "y.onnx")
    code, _, err = run_cli(capsys, command, str(model), *extra, "-o", str(out))
    assert code == 2 and err == f"irc {command}: error: {model}: unknown model format (expected .onnx or .ir)\n"
    assert not out.exists()
    upper = tmp_path / "m.ONNX"
    model.rename(upper)
    code, _, err = run_cli(capsys, command, str(upper), *extra, "-o", str(out))
    assert code == 0 and out.exists(), err


def test_irc_quantize_refuses_a_model_path_without_a_known_suffix(tmp_path):
    import irc

    _identity_model(tmp_path / "m.bin")
    with pytest.raises(irc.IRError, match="m.bin: unknown model format"):
        irc.quantize(tmp_path / "m.bin", {"x": np.ones((2, 3), np.float32)})
