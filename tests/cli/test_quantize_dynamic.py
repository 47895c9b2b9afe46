"""irc quantize --mode dynamic: no calibration data, weights int8, activations quantized at run
time; onnxruntime runs every weight matmul of a real exported BERT as an int8 kernel, and the
accuracy budget (--max-drop) returns the fewest of them to fp32."""

from __future__ import annotations

import json
from pathlib import Path

import onnx

import irc
from irc.backends.onnx.ort_kernels import ort_kernel_report
from irc.cli import main

BERT = Path(__file__).resolve().parents[1] / "data" / "corpus" / "bert_ts"
DYNAMIC_KERNELS = ("DynamicQuantizeMatMul", "MatMulIntegerToFloat")


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_dynamic_mode_needs_no_calibration_and_runs_int8_kernels(tmp_path, capsys):
    out = tmp_path / "bert.dyn.onnx"
    code, stdout, err = _run(capsys, "quantize", str(BERT / "model.onnx"), "--mode", "dynamic", "-o", str(out),
                             "--json", "--no-speed-check")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["stats"]["quantize"]["dynamic matmuls"] == 13  # 12 in the layers, the pooler's gemm
    ops = ort_kernel_report(onnx.load(str(out)))["all"]["op_counts"]
    assert sum(ops.get(k, 0) for k in DYNAMIC_KERNELS) == 13, ops
    assert "QuantizeLinear" not in ops and "DequantizeLinear" not in ops


def test_dynamic_mode_checks_with_the_calibration_samples_when_given(tmp_path):
    r = irc.quantize(str(BERT / "model.onnx"), str(BERT / "calib.npz"), mode="dynamic")
    assert r.check.samples == 8
    assert min(r.check.cosine.values()) > 0.999


def test_static_mode_without_calibration_data_is_an_error(tmp_path, capsys):
    code, _, err = _run(capsys, "quantize", str(BERT / "model.onnx"), "-o", str(tmp_path / "x.onnx"))
    assert code == 2 and "Traceback" not in err
    assert "--calib is required" in err and "--mode dynamic" in err


def test_the_budget_returns_dynamic_matmuls_to_fp32(tmp_path):
    def run(max_drop):
        return irc.quantize(str(BERT / "model.onnx"), None, mode="dynamic", val=str(BERT / "heldout.npz"),
                            metric="cosine", max_drop=max_drop)

    full = run(1.0).budget
    assert full.met and not full.fp32_ops and full.int8_ops == 13
    assert full.int8_drop > 0
    r = run(full.int8_drop / 4)
    b = r.budget
    assert b.met and b.drop <= b.allowed_drop
    assert 0 < len(b.fp32_ops) < 13
    weight_ops = {op.label for op in r.graph.ops if op.name in ("matmul", "gemm", "dynamic_matmul")}
    assert set(b.fp32_ops) <= weight_ops
    assert r.op_counts()["dynamic_matmul"][0] == 13 - len(b.fp32_ops)


def test_dynamic_mode_smooths_when_given_calibration_data():
    enc = BERT.parent / "transformer_encoder_dynamo"  # its LayerNormalization ops feed matmuls
    with_data = irc.quantize(str(enc / "model.onnx"), str(enc / "calib.npz"), mode="dynamic")
    assert with_data.stats["smooth"]["layer norms found"] > 0
    assert with_data.stats["quantize"]["dynamic matmuls"] > 0
    assert min(with_data.check.cosine.values()) > 0.999
    without = irc.quantize(str(enc / "model.onnx"), None, mode="dynamic")
    assert "smooth" not in without.stats
