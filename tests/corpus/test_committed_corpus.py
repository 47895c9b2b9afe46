"""The exported models committed under tests/data/corpus (real TorchScript, dynamo and tf2onnx
output, see tests/data/corpus/README.md): each loads with onnx, agrees with its meta.json, has
calibration and held-out samples that fit its inputs, and runs in onnxruntime at default
settings; and the corpus runner takes them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
MODELS = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def _dims(vi) -> list:
    return [d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else None)
            for d in vi.type.tensor_type.shape.dim]


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_the_committed_models_cover_both_torch_exporters_and_tf2onnx():
    assert MODELS == ["bert_ts", "cnn_silu_se_dynamo", "cnn_silu_se_ts", "keras_cnn_tf2onnx",
                      "transformer_encoder_dynamo"]
    exporters = {json.loads((CORPUS / m / "meta.json").read_text())["exporter"] for m in MODELS}
    assert exporters == {"torchscript", "dynamo", "tf2onnx"}
    total = sum(f.stat().st_size for m in MODELS for f in (CORPUS / m).iterdir())
    assert total < 5e6  # a few MB in all


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_its_meta_and_runs(name):
    folder = CORPUS / name
    meta = json.loads((folder / "meta.json").read_text())
    model = onnx.load(str(folder / "model.onnx"))
    onnx.checker.check_model(model)
    assert meta["name"] == name
    assert next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == meta["opset"]
    assert sorted({n.op_type for n in model.graph.node}) == meta["ops"]
    inits = {t.name for t in model.graph.initializer}
    inputs = [vi for vi in model.graph.input if vi.name not in inits]
    assert [{"name": vi.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type).name,
             "shape": _dims(vi)} for vi in inputs] == meta["inputs"]
    assert [{"name": vi.name, "shape": _dims(vi)} for vi in model.graph.output] == meta["outputs"]
    assert all(not isinstance(i["shape"][0], int) for i in meta["inputs"])  # a dynamic batch axis
    # the dynamo exporter's stack traces (the exporting machine's paths) were left out
    assert not any(p.key == "pkg.torch.onnx.stack_trace" for n in model.graph.node for p in n.metadata_props)

    calib, heldout = _npz(folder / "calib.npz"), _npz(folder / "heldout.npz")
    for data, count in ((calib, meta["calib_samples"]), (heldout, meta["heldout_samples"])):
        assert list(data) == [i["name"] for i in meta["inputs"]]
        for spec in meta["inputs"]:
            a = data[spec["name"]]
            assert a.dtype.name == spec["dtype"] and a.shape[0] == count
            assert all(d == s for d, s in zip(a.shape[1:], spec["shape"][1:]) if isinstance(s, int))
    assert not any(np.array_equal(calib[k][:len(heldout[k])], heldout[k]) for k in calib)  # other samples

    sess = ort.InferenceSession(str(folder / "model.onnx"), ort.SessionOptions(), providers=["CPUExecutionProvider"])
    for i in range(2):
        outs = sess.run(None, {k: v[i:i + 1] for k, v in heldout.items()})
        assert len(outs) == len(meta["outputs"])
        for out, spec in zip(outs, meta["outputs"]):
            assert np.isfinite(out).all() and np.abs(out).max() > 0
            assert out.shape[0] == 1
            assert all(d == s for d, s in zip(out.shape, spec["shape"]) if isinstance(s, int))


def test_text_models_have_padded_attention_masks():
    for name in MODELS:
        data = _npz(CORPUS / name / "heldout.npz")
        if "attention_mask" not in data:
            continue
        mask, ids = data["attention_mask"], data["input_ids"]
        assert set(np.unique(mask)) == {0, 1} and (mask == 0).any(axis=1).sum() >= len(mask) // 2
        assert (ids[mask == 0] == 0).all() and (ids[mask == 1] > 0).all()


def test_the_corpus_runner_takes_a_committed_model(tmp_path):
    from irc.bench.corpus import CorpusOptions, run_corpus

    res = run_corpus(CORPUS, CorpusOptions(quantizers=["ort"]), names=["cnn_silu_se_ts"], workdir=tmp_path)
    (m,) = res["models"]
    assert (m["name"], m["exporter"], m["opset"]) == ("cnn_silu_se_ts", "torchscript", 14)
    assert m["ort"]["status"] == "ok", m["ort"]
    assert m["ort"]["cosine"] > 0.95 and m["ort"]["kernels"]["int8_compute"] > 0
