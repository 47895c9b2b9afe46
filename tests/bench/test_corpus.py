"""irc bench --corpus on a corpus built here from a tiny CNN: the result, the table, the CLI, and
that a quantizer that raises, crashes, hangs or writes a file onnxruntime rejects costs one cell
(real child processes, real irc.quantize and onnxruntime quantize_static)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from irc.bench.corpus import CorpusOptions, find_models, format_corpus_report, run_corpus
from irc.bench.corpus_job import compare, one_line
from irc.cli import main
from irc.ir.diagnostics import IRError

from .test_bench import tiny_cnn


def corpus_model(root, name, samples=(8, 4), seed=0, exporter="torchscript", opset=13):
    """ROOT/NAME with the tiny CNN, random calibration and held-out images, and meta.json."""
    folder = root / name
    folder.mkdir(parents=True)
    tiny_cnn(folder / "model.onnx", seed=seed)
    rng = np.random.default_rng(seed)
    for file, n in zip(("calib.npz", "heldout.npz"), samples):
        np.savez(folder / file, x=rng.standard_normal((n, 3, 16, 16)).astype(np.float32))
    meta = {"name": name, "family": "tiny cnn", "exporter": exporter, "opset": opset,
            "inputs": [{"name": "x", "dtype": "float32", "shape": ["N", 3, 16, 16]}]}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


HOOKS = '''
import os, signal, time
import onnx
from onnx import helper, TensorProto


class Result:
    def __init__(self, model):
        self.model = model


def quantize(path, calib, **options):
    name = os.path.basename(os.path.dirname(path))
    if name == "raises":
        raise ValueError("no int8 for this one\\nsecond line")
    if name == "crashes":
        os.kill(os.getpid(), signal.SIGSEGV)
    if name == "hangs":
        time.sleep(600)
    if name == "rejected":  # a file onnxruntime cannot load
        node = helper.make_node("NoSuchOp", ["x"], ["y"], domain="no.such.domain")
        graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        return Result(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                              helper.make_opsetid("no.such.domain", 1)]))
    from irc.quantize import quantize as irc_quantize
    return irc_quantize(path, calib, **options)
'''


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    corpus_model(root / "c", "tiny")
    return run_corpus(root / "c", CorpusOptions(), workdir=root / "work", progress=True), root


def test_irc_and_ort_on_the_tiny_model(tiny_result):
    res, root = tiny_result
    json.dumps(res)
    assert res["schema"] == "irc-corpus/1" and res["quantizers"] == ["irc", "ort"]
    (m,) = res["models"]
    assert (m["name"], m["exporter"], m["opset"], m["family"]) == ("tiny", "torchscript", 13, "tiny cnn")
    for q in ("irc", "ort"):
        e = m[q]
        assert e["status"] == "ok", e
        assert e["file"] == str(root / "work" / "tiny" / f"{q}.onnx") and e["file_mb"] > 0
        onnx.checker.check_model(onnx.load(e["file"]))
        assert 0.99 < e["cosine"] <= 1 + 1e-9 and set(e["outputs"]) == {"y"}
        assert e["outputs"]["y"]["cosine"] == e["cosine"]
        k = e["kernels"]
        assert (k["quantized"], k["int8_compute"], k["float_compute"]) == (3, 3, 0), k
    assert m["ort"]["info"]["preprocessed"] is True
    assert res["summary"] == {"irc": {"ok": 1, "models": 1}, "ort": {"ok": 1, "models": 1}}


def test_table(tiny_result):
    res, _ = tiny_result
    md = format_corpus_report(res, markdown=True)
    assert "| model | exporter | opset | irc | irc cos | irc int8 | ort | ort cos | ort int8 |" in md
    cos = f"{res['models'][0]['irc']['cosine']:.4f}"
    assert f"| tiny | torchscript | 13 | ok | {cos} | 3 (0 float) | ok |" in md
    assert "irc: 1 of 1 ok; ort: 1 of 1 ok" in md
    text = format_corpus_report(res)
    assert "tiny" in text and "3 (0 float)" in text and "|" not in text


def test_failures_cost_one_cell_each(tmp_path):
    corpus = tmp_path / "c"
    for name in ("raises", "crashes", "rejected", "tiny"):
        corpus_model(corpus, name)
    hook = tmp_path / "hooks.py"
    hook.write_text(HOOKS)
    res = run_corpus(corpus, CorpusOptions(quantizers=["irc"], quantize_hook=f"{hook}:quantize", kernels=False),
                     workdir=tmp_path / "w")
    by = {m["name"]: m["irc"] for m in res["models"]}
    assert [m["name"] for m in res["models"]] == ["crashes", "raises", "rejected", "tiny"]
    assert by["raises"]["status"] == "error" and by["raises"]["stage"] == "quantize"
    assert by["raises"]["error"] == "ValueError: no int8 for this one second line"
    assert by["crashes"]["status"] == "error" and by["crashes"]["error"] == "the job crashed (SIGSEGV)"
    assert by["rejected"]["stage"] == "load" and "NoSuchOp" in by["rejected"]["detail"]
    assert by["tiny"]["status"] == "ok" and by["tiny"]["cosine"] > 0.99
    assert res["summary"]["irc"] == {"ok": 1, "models": 4}
    md = format_corpus_report(res, markdown=True)
    assert "| raises | torchscript | 13 | ValueError: no int8 for this one second line | - | - |" in md
    assert "| rejected | torchscript | 13 | onnxruntime load: " in md


def test_a_hanging_job_is_killed_at_the_timeout(tmp_path):
    corpus = tmp_path / "c"
    corpus_model(corpus, "hangs")
    corpus_model(corpus, "tiny")
    hook = tmp_path / "hooks.py"
    hook.write_text(HOOKS)
    res = run_corpus(corpus, CorpusOptions(quantizers=["irc"], quantize_hook=f"{hook}:quantize", kernels=False,
                                           timeout=20), workdir=tmp_path / "w")
    by = {m["name"]: m["irc"] for m in res["models"]}
    assert by["hangs"] == {"status": "error", "stage": "timeout", "error": "timed out after 20 s",
                           "seconds": by["hangs"]["seconds"]}
    assert 20 <= by["hangs"]["seconds"]["total"] < 60
    assert by["tiny"]["status"] == "ok"


def test_compare_outputs():
    ref = [[np.array([1.0, 0.0], np.float32), np.array([1, 2]), np.zeros(3, np.float32)],
           [np.array([0.0, 1.0], np.float32), np.array([3, 4]), np.zeros(3, np.float32)]]
    got = [[np.array([1.0, 1.0], np.float32), np.array([1, 2]), np.zeros(3, np.float32)],
           [np.array([0.0, 2.0], np.float32), np.array([3, 5]), np.zeros(3, np.float32)]]
    res = compare(["a", "idx", "z"], ref, got)
    assert res["outputs"]["a"]["cosine"] == pytest.approx((np.sqrt(0.5) + 1.0) / 2)
    assert res["outputs"]["idx"] == {"equal": 0.5}         # integer outputs: the fraction of equal samples
    assert res["outputs"]["z"]["cosine"] == 1.0              # both all-zero
    assert res["cosine"] == pytest.approx((np.sqrt(0.5) + 1.0) / 2)  # min over float outputs
    bad = compare(["a"], [[np.ones(2, np.float32)]], [[np.array([np.nan, 1], np.float32)]])
    assert bad["cosine"] is None and bad["outputs"]["a"]["note"] == "non-finite output"
    shape = compare(["s"], [[np.ones((2, 3), np.float32)]], [[np.ones((1, 3), np.float32)]])
    assert shape["cosine"] is None and shape["outputs"]["s"]["shapes"] == [[2, 3], [1, 3]]
    # a data-dependent integer output (NMS indices) of another length leaves the cosine defined
    nms = compare(["f", "sel"], [[np.ones(2, np.float32), np.zeros((3, 3), np.int64)]],
                  [[np.ones(2, np.float32), np.zeros((2, 3), np.int64)]])
    assert nms["cosine"] == pytest.approx(1.0) and nms["outputs"]["sel"] == {"equal": 0.0}


def test_one_line_errors():
    ort = RuntimeError('[ONNXRuntimeError] : 10 : INVALID_GRAPH : Load model from /x/ort.onnx failed:This is an '
                       'invalid model. In Node, ("n1", DequantizeLinear, "", -1) : ("a": tensor(int32),) -> ("b",) '
                       ', Error Unrecognized attribute: axis for operator DequantizeLinear')
    assert one_line(ort) == ("RuntimeError: INVALID_GRAPH: Unrecognized attribute: axis for operator "
                             "DequantizeLinear (DequantizeLinear node n1)")
    irc = IRError("the model uses 2 op type(s) irc does not support:\n  IsNaN (2 nodes): /a/IsNaN, /b/IsNaN\n"
                  "  Range (1 node): /r")
    assert one_line(irc) == "the model uses 2 op type(s) irc does not support: IsNaN (2 nodes) Range (1 node)"


def test_corpus_folder_errors(tmp_path):
    with pytest.raises(IRError, match="corpus folder not found"):
        find_models(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IRError, match="no model folders"):
        find_models(tmp_path / "empty")
    folder = corpus_model(tmp_path / "c", "tiny")
    with pytest.raises(IRError, match="no model 'other' in the corpus; it has tiny"):
        find_models(tmp_path / "c", ["other"])
    (folder / "heldout.npz").unlink()
    with pytest.raises(IRError, match="missing heldout.npz"):
        find_models(tmp_path / "c")


def test_cli(tmp_path, capsys):
    corpus_model(tmp_path / "c", "tiny")
    corpus_model(tmp_path / "c", "other", seed=1)
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    code = main(["bench", "--corpus", str(tmp_path / "c"), "tiny", "--variants", "ort", "--workdir",
                 str(tmp_path / "w"), "--json", str(out), "--markdown", str(md), "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "tiny" in captured.out and "other" not in captured.out and captured.err == ""
    res = json.loads(out.read_text())
    assert res["quantizers"] == ["ort"] and [m["name"] for m in res["models"]] == ["tiny"]
    assert res["command"] == f"irc bench --corpus {tmp_path / 'c'} tiny --variants ort --timeout 900"
    assert "| tiny | torchscript | 13 | ok |" in md.read_text()

    code = main(["bench", "--corpus", str(tmp_path / "c"), "--variants", "nncf", "--quiet"])
    assert code == 2 and "'nncf' is not one of them" in capsys.readouterr().err
    code = main(["bench", "--corpus", str(tmp_path / "missing"), "--quiet"])
    assert code == 2 and "corpus folder not found" in capsys.readouterr().err


def test_speed_and_ort_dynamic(tmp_path):
    """--speed times every int8 file against fp32 in its job (one entry per threads x batch), and
    ort-dynamic runs onnxruntime's quantize_dynamic; the table gets a column per cell."""
    corpus_model(tmp_path / "c", "tiny")
    speed = {"threads": [1], "batches": [1, 2], "seconds": 0.05}
    res = run_corpus(tmp_path / "c", CorpusOptions(quantizers=["irc", "ort-dynamic"], speed=speed),
                     workdir=tmp_path / "work")
    (m,) = res["models"]
    for q in ("irc", "ort-dynamic"):
        assert m[q]["status"] == "ok", m[q]
        assert set(m[q]["speedup"]) == {"t1b1", "t1b2"} and all(v > 0 for v in m[q]["speedup"].values())
    assert m["ort-dynamic"]["info"] == {"weight_type": "QInt8"}
    md = format_corpus_report(res, markdown=True)
    assert "| irc t1b1 | irc t1b2 |" in md and "| ort-dynamic t1b1 |" in md
