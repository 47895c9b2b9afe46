"""irc bench on a tiny CNN: the result's structure, ratios from alternating rounds, kernels,
memory, the tables, and the command line (real onnxruntime, real irc.quantize)."""

from __future__ import annotations

import json
import statistics

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from irc.bench import BenchOptions, format_report, geomean, run_bench
from irc.cli import main


def tiny_cnn(path, batch="N", seed=0):
    """Conv-Relu-Conv-Relu-GlobalAveragePool-Flatten-Gemm on [batch, 3, 16, 16]."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in [
        ("w1", rng.normal(0, np.sqrt(2 / 27), (8, 3, 3, 3))), ("b1", rng.normal(0, 0.02, 8)),
        ("w2", rng.normal(0, np.sqrt(2 / 72), (8, 8, 3, 3))), ("b2", rng.normal(0, 0.02, 8)),
        ("wf", rng.normal(0, np.sqrt(2 / 8), (10, 8))), ("bf", rng.normal(0, 0.02, 10))]]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])], initializer=inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


OPTS = dict(batches=[1, 2], threads=[1], rounds=2, min_rounds=2, budget_seconds=0.0, warmup=1, calib_samples=8)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench")
    model = tiny_cnn(d / "tiny.onnx")
    return run_bench([str(model)], BenchOptions(variants=["fp32", "irc", "ort"], **OPTS), workdir=d / "work"), d


def test_result_structure_and_per_round_ratios(result):
    res, d = result
    json.dumps(res)  # JSON-ready
    assert res["schema"] == "irc-bench/1" and res["reference"] == "fp32"
    assert res["variants"] == ["fp32", "irc", "ort"]
    (m,) = res["models"]
    assert m["name"] == "tiny" and m["compute_nodes"] == 3 and m["inputs"] == {"x": [None, 3, 16, 16]}
    assert [(c["threads"], c["batch"]) for c in m["timings"]] == [(1, 1), (1, 2)]
    for cell in m["timings"]:
        assert cell["rounds"] == 2
        ref = cell["variants"]["fp32"]["ms"]
        for name in ("fp32", "irc", "ort"):
            v = cell["variants"][name]
            assert len(v["ms"]) == 2 and all(t > 0 for t in v["ms"])
            assert v["median_ms"] == pytest.approx(statistics.median(v["ms"]))
            # the speedup pairs times of the same round
            assert v["speedup"] == pytest.approx(statistics.median([r / t for r, t in zip(ref, v["ms"])]))
        assert cell["variants"]["fp32"]["speedup"] == 1.0
        irc_ms, ort_ms = cell["variants"]["irc"]["ms"], cell["variants"]["ort"]["ms"]
        assert cell["irc_vs_ort"] == pytest.approx(statistics.median([o / i for o, i in zip(ort_ms, irc_ms)]))
    g = {(x["threads"], x["batch"]): x["variants"] for x in res["geomean"]}
    assert g[(1, 1)]["irc"]["models"] == 1
    assert g[(1, 1)]["irc"]["speedup"] == pytest.approx(m["timings"][0]["variants"]["irc"]["speedup"])


def test_variants_files_kernels_memory(result):
    res, d = result
    (m,) = res["models"]
    for name in ("irc", "ort"):
        v = m["variants"][name]
        assert "error" not in v, v.get("error")
        assert v["file"].startswith(str(d / "work")) and v["file_mb"] > 0
        k = v["kernels"]
        assert k["quantized"] == 3 and k["int8_compute"] == 3 and k["float_compute"] == 0, k
        assert 0.9 < v["cosine"] <= 1.0 + 1e-9
        assert v["memory"]["peak_mb"] >= v["memory"]["baseline_mb"] > 0
    assert m["variants"]["irc"]["ir_quantized_compute"] == 3
    fp32 = m["variants"]["fp32"]
    assert fp32["file"] == str(d / "tiny.onnx")  # a given model is used in place, not copied
    assert "kernels" not in fp32 and fp32["memory"]["peak_mb"] > 0


def test_tables(result):
    res, _ = result
    text = format_report(res)
    assert "threads=1 batch=1" in text and "threads=1 batch=2" in text
    assert "tiny" in text and "geomean" in text and "irc vs ort" in text
    assert "3/3 int8, 0 float" in text
    md = format_report(res, markdown=True)
    assert "| model | rounds | fp32 ms | irc ms | irc x | ort ms | ort x | irc vs ort |" in md
    assert "| **geomean** |" in md


def test_a_failing_quantizer_is_reported_and_the_rest_is_timed(tmp_path):
    def broken(path, calib, **options):
        raise RuntimeError("no int8 today")

    model = tiny_cnn(tmp_path / "tiny.onnx")
    res = run_bench([str(model)], BenchOptions(variants=["fp32", "irc"], memory=False, kernels=False, **OPTS),
                    workdir=tmp_path / "w", quantize=broken)
    (m,) = res["models"]
    assert m["variants"]["irc"]["error"] == "RuntimeError: no int8 today"
    assert set(m["timings"][0]["variants"]) == {"fp32"}
    assert "tiny irc: RuntimeError: no int8 today" in format_report(res)


def test_quantizer_receives_the_calibration_samples(tmp_path):
    seen = {}

    def spy(path, calib, **options):
        seen.update(path=path, calib=calib, options=options)
        raise RuntimeError("stop")

    model = tiny_cnn(tmp_path / "tiny.onnx")
    run_bench([str(model)], BenchOptions(variants=["fp32", "irc"], memory=False, quantize_options={"method": "minmax"},
                                         **{**OPTS, "batches": [1]}), workdir=tmp_path / "w", quantize=spy)
    assert seen["path"] == str(model) and seen["options"] == {"method": "minmax"}
    assert seen["calib"]["x"].shape == (8, 3, 16, 16) and seen["calib"]["x"].dtype == np.float32


def test_fixed_batch_model_skips_other_batches(tmp_path):
    model = tiny_cnn(tmp_path / "fixed.onnx", batch=1)
    res = run_bench([str(model)], BenchOptions(variants=["fp32"], memory=False, **OPTS), workdir=tmp_path / "w")
    cells = res["models"][0]["timings"]
    assert cells[0]["rounds"] == 2
    assert cells[1] == {"threads": 1, "batch": 2, "skipped": "the model's batch is fixed at 1"}
    assert "skipped: the model's batch is fixed at 1" in format_report(res)


def test_geomean():
    assert geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert geomean([]) is None


def test_cli_writes_json_and_markdown(tmp_path, capsys):
    model = tiny_cnn(tmp_path / "tiny.onnx")
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    code = main(["bench", str(model), "--variants", "fp32,ort", "--batch", "1", "--threads", "1", "--rounds", "2",
                 "--min-rounds", "2", "--calib-samples", "4", "--no-memory", "--workdir", str(tmp_path / "w"),
                 "--json", str(out), "--markdown", str(md), "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "threads=1 batch=1" in captured.out and "tiny" in captured.out
    res = json.loads(out.read_text())
    assert res["models"][0]["timings"][0]["rounds"] == 2
    assert res["command"].startswith(f"irc bench {model} --variants fp32,ort --batch 1 --threads 1 --rounds 2")
    assert "| tiny | 2 |" in md.read_text()


@pytest.mark.parametrize("argv, message", [
    (["resnet51"], "unknown model 'resnet51'"),
    (["missing.onnx"], "missing.onnx: model file not found"),
    (["resnet50", "--variants", "fp32,tflite"], "unknown variant 'tflite'"),
    (["resnet50", "--batch", "0"], "--batch expects positive integers"),
    (["resnet50", "--threads", "one"], "--threads expects comma-separated integers"),
    (["resnet50", "--irc-option", "method"], "--irc-option expects KEY=VALUE"),
])
def test_cli_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["bench", *argv, "--workdir", str(tmp_path / "w"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err


def test_cli_bad_model_file(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    code = main(["bench", str(bad), "--variants", "fp32", "--workdir", str(tmp_path / "w"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and f"{bad}: not a readable ONNX model" in err


def test_cosine_of_an_all_zero_output_is_marked():
    from irc.bench.report import detail_table
    from irc.bench.runner import _cosine

    assert _cosine([np.ones(3)], [np.ones(3)])["cosine"] == pytest.approx(1.0)
    assert _cosine([np.zeros(3)], [np.ones(3)]) == {"cosine": None, "cosine_note": "all-zero output"}
    res = {"variants": ["fp32", "ort"], "reference": "fp32",
           "models": [{"name": "m", "compute_nodes": 2, "variants": {"fp32": {}, "ort": {
               "cosine": None, "cosine_note": "all-zero output"}}}]}
    assert "| m | 2 | - | - | - | - | - | zeros |" in detail_table(res, markdown=True)


@pytest.mark.parametrize("variants, module", [(["fp32", "nncf"], "nncf"), (["fp32", "ov-fp32", "ov-int8"], "openvino")])
def test_optional_variants_when_installed(variants, module, tmp_path):
    pytest.importorskip(module)
    pytest.importorskip("nncf")
    model = tiny_cnn(tmp_path / "tiny.onnx")
    res = run_bench([str(model)], BenchOptions(variants=variants, memory=False, **{**OPTS, "batches": [1]}),
                    workdir=tmp_path / "w")
    (m,) = res["models"]
    for v in variants:
        assert "error" not in m["variants"][v], m["variants"][v].get("error")
        assert m["timings"][0]["variants"][v]["median_ms"] > 0
    if "nncf" in variants:
        assert m["variants"]["nncf"]["kernels"]["int8_compute"] >= 1
    if "ov-int8" in variants:
        assert m["variants"]["ov-int8"]["file"].endswith(".xml") and m["variants"]["ov-int8"]["file_mb"] > 0
        assert m["variants"]["ov-int8"]["cosine"] > 0.9


def test_uninstalled_variant_is_an_error(tmp_path, capsys, monkeypatch):
    from irc.bench import variants

    monkeypatch.setattr(variants, "missing_modules", lambda name: ["openvino"] if name.startswith("ov") else [])
    code = main(["bench", "squeezenet", "--variants", "fp32,ov-int8", "--workdir", str(tmp_path), "--quiet"])
    assert code == 2
    assert "variant 'ov-int8' needs the Python package 'openvino', which is not installed" in capsys.readouterr().err
