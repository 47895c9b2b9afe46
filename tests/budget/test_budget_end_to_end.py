"""The accuracy budget end to end on the example models (real data, onnxruntime, irc's CLI)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import irc
from irc.backends.onnx.ort_kernels import ort_kernel_report
from irc.cli import main
from irc.data import load_preprocess, open_dataset
from irc.evaluation import evaluate

from .graphs import DATA, MODELS, OUTLIER, PREPROCESS

CALIB = ["--calib", str(DATA / "calib"), "--preprocess", str(PREPROCESS)]


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def top1(path) -> float:
    ds = open_dataset(DATA / "val", preprocess=load_preprocess(PREPROCESS))
    return evaluate(path, ds, ["top1"], progress=False).values["top1"]


@pytest.fixture(scope="module")
def absolute(tmp_path_factory):
    """The outlier model under --max-drop 0.01 (full int8 loses 2.44 points there)."""
    r = irc.quantize(OUTLIER, DATA / "calib", preprocess=str(PREPROCESS), val=str(DATA / "val"), max_drop=0.01,
                     ranking_samples=32)
    path = tmp_path_factory.mktemp("budget") / "outlier.int8.onnx"
    r.save(path)
    return r, path


def test_absolute_budget_is_met_with_few_fp32_ops_and_evaluations(absolute):
    r, path = absolute
    b = r.budget
    assert b.fp32_metric - b.int8_metric > 0.01  # the premise: full int8 misses the budget
    assert b.met and b.drop <= 0.01 and b.allowed_drop == 0.01
    assert 1 <= len(b.fp32_ops) <= 6
    assert b.evaluations <= 8
    assert b.trials[0]["phase"] == "fp32" and b.trials[1]["phase"] == "int8"
    assert len(b.trials) == b.evaluations
    # measured again, independently, from the written file
    assert top1(path) == pytest.approx(b.final_metric)
    assert b.fp32_metric - top1(path) <= 0.01


def test_remaining_int8_compute_runs_as_int8_kernels(absolute):
    r, _ = absolute
    n_int8 = {k: sum(1 for op in r.graph.ops if op.name == k and op.results[0].type.is_quantized)
              for k in ("conv", "gemm")}
    n_float = sum(1 for op in r.graph.ops if op.name in ("conv", "gemm") and not op.results[0].type.is_quantized)
    rep = ort_kernel_report(r.model)["extended"]
    assert rep["int8_kernels"].get("QLinearConv", 0) == n_int8["conv"]
    assert rep["int8_kernels"].get("QGemm", 0) == n_int8["gemm"]
    assert rep["float_total"] == n_float
    table = {o.name: o for o in r.budget.ops}
    for name in r.budget.fp32_ops:
        assert table[name].fp32 and table[name].kernel_final in ("Conv", "Gemm", "Add", None)
        assert table[name].rank is not None and table[name].harm > 0
    assert all(o.kernel_final and o.kernel_final.startswith(("QLinear", "QGemm")) for o in r.budget.ops
               if not o.fp32 and o.kind in ("conv", "gemm"))


def test_relative_budget_cli_with_report(tmp_path, capsys):
    out = tmp_path / "q.onnx"
    code, stdout, err = cli(capsys, "quantize", OUTLIER, *CALIB, "-o", out, "--val", DATA / "val",
                            "--max-drop", "0.5%", "--ranking-samples", "32", "--report", tmp_path / "r.html",
                            "--json")
    assert code == 0, err
    b = json.loads(stdout)["budget"]
    assert b["met"] and b["allowed_drop"] == pytest.approx(0.005 * b["fp32_metric"])
    assert b["drop"] <= b["allowed_drop"] and b["fp32_ops"]
    page = (tmp_path / "r.html").read_text()
    assert "Ops returned to fp32" in page and b["fp32_ops"][0] in page
    try:
        import matplotlib  # noqa: F401
        assert page.count("data:image/png;base64,") == 3
    except ImportError:
        assert "plots need matplotlib" in page
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["fp32_ops"] == b["fp32_ops"] and saved["evaluations"] == b["evaluations"]
    onnx.checker.check_model(onnx.load(out))


def test_opt_pipeline_with_a_budget_tighter_than_irc_full_int8_loss(tmp_path, capsys):
    ir = tmp_path / "m.ir"
    assert main(["import", str(OUTLIER), "-o", str(ir)]) == 0
    code, _, err = cli(capsys, "opt", ir, "--pipeline=fold,fuse,dce,calibrate,quantize", "--calib", DATA / "calib",
                       "--calib-preprocess", PREPROCESS, "--val", DATA / "val", "--max-drop", "0.002",
                       "--ranking-samples", "32", "-o", tmp_path / "q.ir", "--report", tmp_path / "r.json")
    assert code == 0, err
    assert "accuracy budget: drop <= 0.002" in err and "met" in err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["met"] and report["drop"] <= 0.002
    text = (tmp_path / "q.ir").read_text()
    assert text.count('q.fallback="budget"') == len(report["fp32_ops"]) > 0


def test_a_model_already_in_budget_costs_two_evaluations(capsys, tmp_path):
    code, stdout, err = cli(capsys, "quantize", MODELS / "digits_mobilenetv2.onnx", *CALIB, "-o", tmp_path / "q.onnx",
                            "--val", DATA / "val", "--max-drop", "0.01", "--json")
    assert code == 0, err
    b = json.loads(stdout)["budget"]
    assert b["met"] and b["evaluations"] == 2 and b["fp32_ops"] == [] and b["sites"] == []
    assert [t["phase"] for t in b["trials"]] == ["fp32", "int8"]


def test_an_impossible_budget_writes_the_best_model_and_exits_3(capsys, tmp_path):
    out = tmp_path / "q.onnx"
    code, stdout, err = cli(capsys, "quantize", OUTLIER, *CALIB, "-o", out, "--val", DATA / "val",
                            "--val-limit", "48", "--metric", "cosine", "--max-drop", "0", "--ranking-samples", "16",
                            "--json")
    assert code == 3
    assert "accuracy budget was not met" in err and "best model found was written" in err
    b = json.loads(stdout)["budget"]
    assert not b["met"] and b["final_metric"] < 1.0 and b["int8_ops"] >= 1
    assert b["final_metric"] == max(t["metric"] for t in b["trials"] if t["phase"] != "fp32")
    onnx.checker.check_model(onnx.load(out))


def test_unlabeled_validation_data_defaults_to_agreement(tmp_path, capsys):
    ds = open_dataset(DATA / "val", preprocess=load_preprocess(PREPROCESS))
    from irc.data import InputSpec

    batch = ds.load(list(range(0, 450, 7)), [InputSpec("input", (None, 1, 32, 32))])
    np.savez(tmp_path / "val.npz", input=batch.inputs["input"])
    code, stdout, err = cli(capsys, "quantize", OUTLIER, *CALIB, "-o", tmp_path / "q.onnx",
                            "--val", tmp_path / "val.npz", "--max-drop", "0.02", "--ranking-samples", "16", "--json")
    assert code == 0, err
    b = json.loads(stdout)["budget"]
    assert b["metric_name"] == "agreement" and b["fp32_metric"] == 1.0 and b["met"]


@pytest.mark.parametrize("argv, message", [
    (["--max-drop", "0.01"], "--max-drop needs a validation set"),
    (["--val", "VAL"], "needs --max-drop"),
    (["--val", "VAL", "--max-drop", "abc"], "--max-drop takes a number"),
    (["--val", "VAL", "--max-drop", "-1"], "must be a finite number >= 0"),
    (["--val", "nowhere", "--max-drop", "0.01"], "nowhere: validation data not found"),
    (["--val", "VAL", "--max-drop", "0.01", "--metric", "bogus"], "unknown metric 'bogus'"),
    (["--metric", "top1"], "belong to the accuracy budget"),
])
def test_bad_budget_options_are_exit_2(capsys, tmp_path, argv, message):
    argv = [str(DATA / "val") if a == "VAL" else a for a in argv]
    code, _, err = cli(capsys, "quantize", OUTLIER, *CALIB, "-o", tmp_path / "q.onnx", *argv)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "q.onnx").exists()


def test_labels_needed_and_pipeline_without_quantize_are_exit_2(capsys, tmp_path):
    np.savez(tmp_path / "val.npz", input=np.zeros((4, 1, 32, 32), np.float32))
    code, _, err = cli(capsys, "quantize", OUTLIER, *CALIB, "-o", tmp_path / "q.onnx", "--val", tmp_path / "val.npz",
                       "--metric", "top1", "--max-drop", "0.01")
    assert code == 2 and "needs class labels" in err
    ir = tmp_path / "m.ir"
    assert main(["import", str(OUTLIER), "-o", str(ir)]) == 0
    code, _, err = cli(capsys, "opt", ir, "--pipeline=fold,fuse", "--val", DATA / "val", "--max-drop", "0.01",
                       "--val-preprocess", PREPROCESS)
    assert code == 2 and "needs the quantize pass in the pipeline" in err


def test_detector_with_map_and_two_outputs(tmp_path, capsys):
    from irc.data import InputSpec

    voc = DATA.parent / "digits-voc"
    cfg = MODELS / "digits_ssd.toml"
    ds = open_dataset(voc, preprocess=load_preprocess(cfg), labels_file=voc / "labels.txt")
    calib = ds.load(list(range(0, 300, 10)), [InputSpec("input", (None, 3, 96, 96))])
    np.savez(tmp_path / "calib.npz", input=calib.inputs["input"])
    code, stdout, err = cli(capsys, "quantize", MODELS / "digits_ssd.onnx", "--calib", tmp_path / "calib.npz",
                            "-o", tmp_path / "q.onnx", "--val", voc, "--val-preprocess", cfg,
                            "--val-labels-file", voc / "labels.txt", "--detection", cfg, "--val-limit", "60",
                            "--max-drop", "0.0005", "--ranking-samples", "16", "--json")
    assert code in (0, 3), err
    b = json.loads(stdout)["budget"]
    assert b["metric_name"] == "map" and (code == 0) == b["met"]
    assert b["trials"][0]["phase"] == "fp32" and 0.5 < b["fp32_metric"] <= 1.0
    if b["int8_drop"] > 0.0005:
        assert b["sites"] and b["evaluations"] > 2


def test_report_without_matplotlib_says_how_to_get_plots(absolute, monkeypatch, tmp_path):
    import sys

    from irc.budget_report import render_html, summary_table, write_report

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = render_html(absolute[0].budget)
    assert "plots need matplotlib" in page and "data:image/png" not in page
    assert "fp32 ops" in summary_table(absolute[0].budget)
    files = write_report(absolute[0].budget, tmp_path / "r.html")
    assert [f.name for f in files] == ["r.html", "r.json"]
    assert json.loads((tmp_path / "r.json").read_text())["met"] is True


def test_report_without_a_budget_is_the_run_report(capsys, tmp_path):
    """irc quantize --report without --val/--max-drop: per-tensor SQNR and ranges, op decisions
    with the reason for each float op, and onnxruntime's kernels."""
    first = "/features/features.0/features.0.0/Conv_output_0"
    code, _, err = cli(capsys, "quantize", OUTLIER, *CALIB, "-o", tmp_path / "q.onnx", "--skip", first,
                       "--report", tmp_path / "r.html", "--no-speed-check")
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    assert "onnxruntime kernels" in html and "SQNR" in html
    data = json.loads((tmp_path / "r.json").read_text())
    tensors = {t["value"]: t for t in data["tensors"]}
    assert "input" not in tensors or tensors["input"]["sqnr_db"] > 30
    assert len(tensors) > 20 and all(t["covers"][0] <= 0 <= t["covers"][1] for t in tensors.values())
    assert all(isinstance(t["sqnr_db"], (float, str)) for t in tensors.values())
    ops = {o["op"]: o for o in data["ops"]}
    assert ops[first]["int8"] is False and ops[first]["why_float"] == "skip="
    ext = data["kernels"]["extended"]
    assert ext["int8_kernels"]["QLinearConv"] == 19
    assert [n["why"] for n in ext["float_compute_nodes"]] == ["irc kept it float: skip="]


def test_opt_report_still_needs_a_budget(capsys, tmp_path):
    ir = tmp_path / "m.ir"
    assert main(["import", str(OUTLIER), "-o", str(ir)]) == 0
    code, _, err = cli(capsys, "opt", ir, "--pipeline=fold", "--report", tmp_path / "r.html")
    assert code == 2 and "belong to the accuracy budget" in err
