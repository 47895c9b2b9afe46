"""Sentence-embedding benchmark: quantizers on a pretrained transformer, accuracy and speed.

    python -m irc.text.bench DIR [--variants fp32,irc,irc-dynamic,ort,ort-dynamic,nncf]
                                 [--batches 1,8] [--seqs 32,128] [--threads 1,2]
                                 [--budget 6] [--json OUT] [--markdown]

DIR is what scripts/text/export_minilm.py writes (model.onnx, calib.npz, pairs32.npz,
passages128.npz). Variants, every one run by onnxruntime (ORT_ENABLE_ALL):

    fp32         the exported model
    irc          irc.quantize with its defaults (static: calibrated u8 activations)
    irc-dynamic  irc.quantize(mode="dynamic"): activations quantized at run time
    irc-smooth   irc static with the smooth pass (SmoothQuant) before calibration
    irc-qlinear  irc static with float-results=false (every int8 matmul requantizes: QLinearMatMul)
    irc-float-attention  irc static with activation-matmuls=false (q k^T and p v stay float)
    ort          onnxruntime quant_pre_process + quantize_static (QDQ, per-channel s8 weights,
                 u8 activations, MinMax), the same calibration samples
    ort-dynamic  onnxruntime quantize_dynamic (s8 weights, per tensor: its defaults)
    nncf         nncf.quantize(model_type=ModelType.TRANSFORMER) on the pre-processed model

Accuracy against fp32 (no labels): the mean and the minimum cosine of the sentence embeddings
(the 448 sentences of the pairs at sequence 32, the 64 passages at 128), and the Spearman rank
correlation of the pairs' similarities with fp32's (224 sentence pairs; every pair of passages).
Speed: per (threads, batch, sequence) cell the variants alternate round by round in one process
and a speedup is the median over rounds of t_fp32 / t_variant (irc.bench.timing).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from irc.bench.variants import build_ort_dynamic, ort_quantize_static, per_sample_feeds, quiet_logging

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
ALL = ("fp32", "irc", "irc-dynamic", "irc-smooth", "irc-qlinear", "irc-float-attention", "ort", "ort-dynamic", "nncf")
IRC_PIPELINES = {
    "irc-smooth": "fold,fuse,dce,smooth,calibrate,quantize",
    "irc-qlinear": "fold,fuse,dce,calibrate,quantize{float-results=false}",
    "irc-float-attention": "fold,fuse,dce,calibrate,quantize{activation-matmuls=false}",
}


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def build(name: str, folder: Path, work: Path, calib: dict[str, np.ndarray]) -> Path:
    """The variant's ONNX file (built into `work`)."""
    src = folder / "model.onnx"
    out = work / f"{name}.onnx"
    if name == "fp32":
        return src
    if name.startswith("irc"):
        import irc

        kw: dict = {}
        if name == "irc-dynamic":
            kw["mode"] = "dynamic"
        if name in IRC_PIPELINES:
            kw["pipeline"] = IRC_PIPELINES[name]
        result = irc.quantize(str(src), None if name == "irc-dynamic" else calib, **kw)
        result.save(str(out))
        return out
    if name == "ort-dynamic":
        build_ort_dynamic(src, out)
        return out
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = work / f"{name}_pre.onnx"
    with quiet_logging():
        try:
            quant_pre_process(str(src), str(pre))
        except Exception:  # its symbolic shape inference gives up on some exports: go without it
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    if name == "ort":
        ort_quantize_static(pre, out, calib)
        return out
    if name == "nncf":
        import nncf
        import onnx

        with quiet_logging():
            q = nncf.quantize(onnx.load(str(pre)), nncf.Dataset(per_sample_feeds(calib)),
                              model_type=nncf.ModelType.TRANSFORMER, subset_size=len(calib["input_ids"]))
        onnx.save(q, str(out))
        return out
    raise ValueError(name)


def session(path: Path, threads: int):
    from irc.bench.runtimes import ort_session

    return ort_session(path, threads)


def embed(sess, data: dict[str, np.ndarray], prefix: str = "", batch: int = 16) -> np.ndarray:
    n = len(data[prefix + "input_ids"])
    outs = []
    for i in range(0, n, batch):
        outs.append(sess.run(None, {k: data[prefix + k][i:i + batch] for k in INPUTS})[0])
    return np.concatenate(outs)


def _unit(e: np.ndarray) -> np.ndarray:
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their mean rank (as Spearman's correlation needs)."""
    a = np.asarray(a, np.float64).reshape(-1)
    order = np.argsort(a, kind="stable")
    ranks = np.empty(a.size, np.float64)
    ranks[order] = np.arange(1, a.size + 1)
    values, inverse = np.unique(a, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    counts = np.bincount(inverse)
    return (sums / counts)[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation: the Pearson correlation of the (tie-averaged) ranks."""
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denom = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")


def accuracy(sess, pairs: dict, passages: dict) -> dict:
    """Embeddings of the pair sentences (seq 32) and the passages (seq 128)."""
    a, b = _unit(embed(sess, pairs, "a_")), _unit(embed(sess, pairs, "b_"))
    p = _unit(embed(sess, passages))
    return {"a": a, "b": b, "p": p}


def compare(ref: dict, got: dict) -> dict:
    cos32 = np.concatenate([(ref["a"] * got["a"]).sum(1), (ref["b"] * got["b"]).sum(1)])
    cos128 = (ref["p"] * got["p"]).sum(1)
    iu = np.triu_indices(len(ref["p"]), 1)
    return {
        "cosine32_mean": float(cos32.mean()), "cosine32_min": float(cos32.min()),
        "cosine128_mean": float(cos128.mean()), "cosine128_min": float(cos128.min()),
        "spearman32": spearman((ref["a"] * ref["b"]).sum(1), (got["a"] * got["b"]).sum(1)),
        "spearman128": spearman((ref["p"] @ ref["p"].T)[iu], (got["p"] @ got["p"].T)[iu]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m irc.text.bench", description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--variants", default="fp32,irc,irc-dynamic,ort,ort-dynamic,nncf")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--seqs", default="32,128")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--budget", type=float, default=6.0, help="seconds of timing per cell")
    ap.add_argument("--work", default=None, help="where the variants' files go (default: DIR/variants)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)

    from irc.bench.kernels import kernel_check
    from irc.bench.timing import alternate, summarize

    folder = Path(args.dir)
    work = Path(args.work) if args.work else folder / "variants"
    work.mkdir(parents=True, exist_ok=True)
    names = ["fp32"] + [v for v in args.variants.split(",") if v and v != "fp32"]
    unknown = [v for v in names if v not in ALL]
    if unknown:
        print(f"unknown variant {unknown[0]!r}; variants: {', '.join(ALL)}", file=sys.stderr)
        return 2
    calib = _load(folder / "calib.npz")
    pairs, passages = _load(folder / "pairs32.npz"), _load(folder / "passages128.npz")
    result: dict = {"variants": {}, "cells": []}
    paths: dict[str, Path] = {}
    for name in names:
        t0 = time.perf_counter()
        try:
            paths[name] = build(name, folder, work, calib)
        except Exception as e:  # one failing quantizer must not end the benchmark
            result["variants"][name] = {"error": f"{type(e).__name__}: {e}"}
            print(f"{name}: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        k = kernel_check(paths[name]) if name != "fp32" else {}
        result["variants"][name] = {"build_s": time.perf_counter() - t0,
                                    "int8_compute": k.get("int8_compute"), "float_compute": k.get("float_compute"),
                                    "q": k.get("q"), "dq": k.get("dq")}
        print(f"built {name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    ref = accuracy(session(paths["fp32"], 2), pairs, passages)
    for name, p in paths.items():
        if name != "fp32":
            result["variants"][name].update(compare(ref, accuracy(session(p, 2), pairs, passages)))
    for threads in [int(t) for t in args.threads.split(",")]:
        sessions = {n: session(p, threads) for n, p in paths.items()}
        for seq in [int(s) for s in args.seqs.split(",")]:
            data = {k: pairs["a_" + k] for k in INPUTS} if seq == 32 else passages
            for batch in [int(b) for b in args.batches.split(",")]:
                feed = {k: np.ascontiguousarray(data[k][:batch, :seq]) for k in INPUTS}
                runs = {n: (lambda s=s, feed=feed: s.run(None, feed)) for n, s in sessions.items()}
                stats = summarize(alternate(runs, budget_seconds=args.budget, max_rounds=200), "fp32")
                cell = {"threads": threads, "batch": batch, "seq": seq, "rounds": stats["rounds"],
                        "fp32_ms": stats["variants"]["fp32"]["median_ms"],
                        "speedup": {n: v["speedup"] for n, v in stats["variants"].items() if n != "fp32"}}
                result["cells"].append(cell)
                print(f"threads {threads} batch {batch} seq {seq}: fp32 {cell['fp32_ms']:.1f} ms; "
                      + ", ".join(f"{n} {s:.2f}x" for n, s in cell["speedup"].items()), file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print(table(result, names, markdown=args.markdown))
    return 0


def table(result: dict, names: list[str], markdown: bool = False) -> str:
    cells = result["cells"]
    heads = ["variant", "cos (seq 32)", "min cos", "cos (seq 128)", "Spearman 32", "Spearman 128", "int8 kernels"]
    heads += [f"t{c['threads']} b{c['batch']} s{c['seq']}" for c in cells]
    rows = []
    for n in names:
        v = result["variants"].get(n, {})
        if "error" in v:
            rows.append([n, "error: " + v["error"][:60]] + [""] * (len(heads) - 2))
            continue
        if n == "fp32":
            row = [n, "1", "1", "1", "1", "1", "0"] + [f"{c['fp32_ms']:.1f} ms" for c in cells]
        else:
            row = [n, f"{v['cosine32_mean']:.4f}", f"{v['cosine32_min']:.4f}", f"{v['cosine128_mean']:.4f}",
                   f"{v['spearman32']:.4f}", f"{v['spearman128']:.4f}", str(v.get("int8_compute"))]
            row += [f"{c['speedup'][n]:.2f}x" if n in c["speedup"] else "" for c in cells]
        rows.append(row)
    if markdown:
        lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    return "\n".join("  ".join(x.ljust(w) for x, w in zip(r, widths)) for r in [heads, *rows])


if __name__ == "__main__":
    sys.exit(main())
