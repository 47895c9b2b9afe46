"""Quantized models read back: the bundled example models quantized by irc (onnx-qdq) and by
onnxruntime's quantize_static (QDQ, per-channel; and the QOperator format) import to int8 IR
(no float compute between casts), print and parse back to the same text, run in the interpreter
like onnxruntime's int8 kernels, and export to models onnxruntime runs with the same int8 kernels
and the same outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import irc
from irc.backends.numpy_interp import run_graph
from irc.ir.host_cpu import u8s8_saturates
from irc.onnx_import import import_onnx
from irc.backends.onnx.ort_kernels import ort_kernel_report
from irc.backends.onnx.qdq import export_qdq
from irc.cli import main
from irc.data import Preprocess, calibration_batches
from irc.ir import load_ir, parse_text, print_graph, save_ir

from .qdq_check import run_ort

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "examples" / "models"
CLS = REPO / "examples" / "data" / "digits-cls"
GRAY = Preprocess(channels="GRAY", scale=1.0, mean=(0.5,), std=(0.5,))
MIN_AGREEMENT = 0.999  # specs/quantization.md §3: 100% on x86-64 with VNNI, one quantum elsewhere
COMPUTE = ("conv", "gemm", "matmul", "add", "concat", "average_pool", "global_average_pool")


def _images(folder: Path, n: int) -> np.ndarray:
    return next(calibration_batches(folder, "input", ("N", 1, 32, 32), batch_size=n, limit=n,
                                    preprocess=GRAY))["input"]


def _ort_quantized(model: Path, out: Path, fmt: str) -> Path:
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"input": _images(CLS / "calib", 64)}])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(model), str(out), Reader(), quant_format=getattr(QuantFormat, fmt), per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax, reduce_range=u8s8_saturates())
    return out


def _quantized(name: str, source: str, tmp_path: Path) -> Path:
    model = MODELS / f"digits_{name}.onnx"
    if source == "irc":
        out = tmp_path / f"{name}.irc.onnx"
        irc.quantize(model, {"input": _images(CLS / "calib", 64)}).save(out)
        return out
    return _ort_quantized(model, tmp_path / f"{name}.{source}.onnx", "QDQ" if source == "ort-qdq" else "QOperator")


def _outputs_agree(got: np.ndarray, want: np.ndarray, quantum: float | None, what: str) -> None:
    """Integers: >= 99.9% equal and within one quantum; a float output (quantum None): within
    float32 rounding."""
    assert got.shape == want.shape, what
    if quantum is None:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=what)
        return
    equal = float(np.mean(got == want))
    worst = float(np.max(np.abs(got.astype(np.float64) - want)))
    assert equal >= MIN_AGREEMENT and worst <= quantum * 1.001, f"{what}: {equal:.5f} equal, worst {worst}"


CASES = [(m, "irc") for m in ("resnet", "mobilenetv2", "inception", "densenet")] + \
        [(m, "ort-qdq") for m in ("resnet", "mobilenetv2", "inception", "densenet")] + \
        [(m, "ort-qoperator") for m in ("resnet", "densenet")]


@pytest.mark.parametrize("name, source", CASES)
def test_quantized_example_model_reads_back(name, source, tmp_path):
    path = _quantized(name, source, tmp_path)
    model = onnx.load(path)
    graph = import_onnx(path)
    assert not graph.import_notes
    # one int8 op for each int8 kernel onnxruntime runs (QLinearConv, QGemm, QLinearAdd, ...)
    before = ort_kernel_report(model)
    int8 = [op for op in graph.ops if op.name in COMPUTE and op.result.type.is_quantized]
    assert len(int8) == before["all"]["int8_total"], (len(int8), before["all"]["int8_kernels"])

    save_ir(graph, tmp_path / "q.ir")
    text = (tmp_path / "q.ir").read_text()
    again = load_ir(tmp_path / "q.ir")
    assert print_graph(again) == text == print_graph(parse_text(text, weights=again.weights))

    x = _images(CLS / "val", 32)
    want = run_ort(model, {"input": x})[0]
    got = run_graph(again, {"input": x})[graph.outputs[0].name]
    quantum = graph.outputs[0].producer.operands[0].type.quant.scale
    _outputs_agree(got, want, quantum, f"{name} ({source}): interpreter vs onnxruntime")

    exported = export_qdq(again, warn=lambda m: None)
    onnx.checker.check_model(exported, full_check=True)
    np.testing.assert_array_equal(run_ort(exported, {"input": x})[0], want)
    after = ort_kernel_report(exported)
    for level in ("extended", "all"):
        assert after[level]["int8_kernels"] == before[level]["int8_kernels"], level
        assert after[level]["float_total"] == before[level]["float_total"] == 0, level


def _ssd_inputs(n: int) -> np.ndarray:
    from PIL import Image

    from irc.data.preprocess import load_preprocess

    pre = load_preprocess(MODELS / "digits_ssd.toml").for_input((None, 3, 96, 96))
    files = sorted((REPO / "examples" / "data" / "digits-voc" / "JPEGImages").iterdir())[:n]
    return np.stack([pre(Image.open(f), str(f)) for f in files])


def test_quantized_detector_reads_back(tmp_path):
    """The SSD quantized by irc: its int8 region (26 convs, transposes, reshapes, concats) comes
    back int8; the softmax stays float between the casts, as irc left it."""
    out = tmp_path / "ssd.int8.onnx"
    irc.quantize(MODELS / "digits_ssd.onnx", {"input": _ssd_inputs(48)}).save(out)
    graph = import_onnx(out)
    kinds = {op.name for op in graph.ops if op.name not in ("const", "quantize", "dequantize")
             and not op.result.type.is_quantized}
    assert kinds == {"softmax"}, kinds
    x = _ssd_inputs(8)
    want = run_ort(onnx.load(out), {"input": x})
    got = run_graph(graph, {"input": x})
    for v, w in zip(graph.outputs, want):
        d = v.producer
        quantum = d.operands[0].type.quant.scale if d.name == "dequantize" else None
        _outputs_agree(got[v.name], w, quantum, v.name)
    exported = export_qdq(graph, warn=lambda m: None)
    for a, b in zip(run_ort(exported, {"input": x}), want):
        np.testing.assert_array_equal(a, b)
    assert ort_kernel_report(exported)["all"]["int8_kernels"] == ort_kernel_report(out)["all"]["int8_kernels"]


def test_command_line_round_trip_and_quantize_refuses_a_quantized_model(tmp_path, capsys):
    q = _quantized("inception", "irc", tmp_path)
    assert main(["import", str(q), "-o", str(tmp_path / "q.ir")]) == 0
    assert main(["emit", "--target=onnx-qdq", str(tmp_path / "q.ir"), "-o", str(tmp_path / "q2.onnx")]) == 0
    x = _images(CLS / "val", 16)
    np.testing.assert_array_equal(run_ort(onnx.load(tmp_path / "q2.onnx"), {"input": x})[0],
                                  run_ort(onnx.load(q), {"input": x})[0])
    # the literal form: float ops between casts, which fuse-qdq turns into the same IR
    assert main(["import", "--keep-qdq", str(q), "-o", str(tmp_path / "k.ir")]) == 0
    assert "= conv(%input_q_dq" in (tmp_path / "k.ir").read_text()
    assert main(["opt", "--pipeline=fuse-qdq", str(tmp_path / "k.ir"), "-o", str(tmp_path / "f.ir")]) == 0
    assert (tmp_path / "f.ir").read_text() == (tmp_path / "q.ir").read_text()
    capsys.readouterr()

    code = main(["quantize", str(q), "--calib", str(CLS / "calib"), "--preprocess",
                 str(MODELS / "digits_cls.toml"), "-o", str(tmp_path / "qq.onnx")])
    err = capsys.readouterr().err
    assert code == 2 and "is already quantized (24 int8 ops, 1 quantize cast)" in err, err
    assert "Traceback" not in err and not (tmp_path / "qq.onnx").exists()
