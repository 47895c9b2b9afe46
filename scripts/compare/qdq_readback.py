"""Quantized models read back: import, text round trip, interpreter vs onnxruntime, re-export.

    python scripts/compare/qdq_readback.py [--sources irc,ort-qdq,ort-qoperator] [--models NAME ...]
                                         [--corpus DIR] [--json]

For each bundled example model (examples/models; the detector too) and each source of a
quantized model — irc.quantize, onnxruntime's quantize_static in the QDQ format (per-channel
int8 weights, u8 activations, MinMax) and in the QOperator format — on 64 calibration images:

  - import it (`irc import`), print the IR and parse it back: is the text the same?
  - run the IR on the numpy interpreter and the ONNX file on onnxruntime (default session
    options) on 64 other images: per output, the share of identical elements and the largest
    difference in quanta of the output's type (float outputs: the largest absolute difference);
  - export the IR (`irc emit --target=onnx-qdq`) and run that: are its outputs identical to the
    original file's, and does onnxruntime's optimized graph (ORT_ENABLE_ALL) hold the same int8
    kernels?

`--corpus DIR` adds models of a corpus folder laid out as tests/data/corpus (model.onnx,
calib.npz, heldout.npz per model), quantized by quantize_static (irc quantize is not run on them
here). Needs only the runtime dependencies.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

import irc
from irc.backends.numpy_interp import run_graph
from irc.onnx_import import import_onnx
from irc.backends.onnx.ort_kernels import ort_kernel_report
from irc.backends.onnx.qdq import export_qdq
from irc.data import Preprocess, calibration_batches
from irc.ir import parse_text, print_graph

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "examples" / "models"
CLS = REPO / "examples" / "data" / "digits-cls"
GRAY = Preprocess(channels="GRAY", scale=1.0, mean=(0.5,), std=(0.5,))
EXAMPLES = ("resnet", "mobilenetv2", "inception", "densenet", "mobilenetv2_outlier", "ssd")
SOURCES = ("irc", "ort-qdq", "ort-qoperator")


def example_data(name: str, split: str, n: int = 64) -> dict[str, np.ndarray]:
    if name == "ssd":
        from PIL import Image

        from irc.data.preprocess import load_preprocess

        pre = load_preprocess(MODELS / "digits_ssd.toml").for_input((None, 3, 96, 96))
        files = sorted((REPO / "examples" / "data" / "digits-voc" / "JPEGImages").iterdir())
        files = files[:n] if split == "calib" else files[n:2 * n]
        return {"input": np.stack([pre(Image.open(f), str(f)) for f in files])}
    batches = calibration_batches(CLS / split, "input", ("N", 1, 32, 32), batch_size=n, limit=n, preprocess=GRAY)
    return next(batches)


def ort_quantized(model: Path, calib: dict[str, np.ndarray], out: Path, fmt: str) -> Path:
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            n = len(next(iter(calib.values())))
            self.batches = iter([{k: v[i:i + 16] for k, v in calib.items()} for i in range(0, n, 16)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(model), str(out), Reader(), quant_format=getattr(QuantFormat, fmt), per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    return out


def run_ort(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    return sess.run(None, {k: v for k, v in feeds.items() if k in names})


def output_quantum(v) -> float | None:
    op = v.producer
    if op is not None and op.name == "dequantize":
        return float(np.max(op.operands[0].type.quant.scale_array()))
    return None


def read_back(path: Path, feeds: dict[str, np.ndarray]) -> dict:
    model = onnx.load(path)
    graph = import_onnx(path)
    text = print_graph(graph)
    row: dict = {"roundtrip": print_graph(parse_text(text, weights=graph.weights)) == text}
    feeds = {v.name: feeds[v.name] for v in graph.inputs}
    want = run_ort(model, feeds)
    got = run_graph(graph, feeds)
    outputs = []
    for v, w in zip(graph.outputs, want):
        a = got[v.name]
        q = output_quantum(v)
        diff = float(np.max(np.abs(a.astype(np.float64) - w), initial=0.0))
        outputs.append({"name": v.name, "equal": float(np.mean(a == w)),
                        "worst": diff / q if q else diff, "unit": "quanta" if q else "abs"})
    row["outputs"] = outputs
    exported = export_qdq(graph, warn=lambda m: None)
    again = run_ort(exported, feeds)
    row["reexport_identical"] = all(np.array_equal(a, b) for a, b in zip(want, again))
    before = ort_kernel_report(model, levels=("all",))["all"]["int8_kernels"]
    after = ort_kernel_report(exported, levels=("all",))["all"]["int8_kernels"]
    row["int8_kernels"] = sum(before.values())
    row["same_kernels"] = before == after
    row["ir_int8_ops"] = sum(1 for op in graph.ops if op.name not in ("const", "quantize", "dequantize")
                             and op.results and op.results[0].type.is_quantized)
    row["generic_ops"] = dict(Counter(op.name for op in graph.ops if "." in op.name))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", default=",".join(SOURCES))
    ap.add_argument("--models", nargs="+", default=list(EXAMPLES), help="example models, by name")
    ap.add_argument("--corpus", type=Path, help="a folder of corpus models (model.onnx, calib.npz, heldout.npz)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sources = args.sources.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        jobs = [(m, MODELS / f"digits_{m}.onnx", example_data(m, "calib"), example_data(m, "val")) for m in args.models]
        if args.corpus:
            for d in sorted(p for p in args.corpus.iterdir() if (p / "model.onnx").is_file()):
                jobs.append((d.name, d / "model.onnx", dict(np.load(d / "calib.npz")), dict(np.load(d / "heldout.npz"))))
        for name, src, calib, val in jobs:
            for source in sources:
                if source == "irc" and src.parent != MODELS:
                    continue
                out = tmp / f"{name}.{source}.onnx"
                try:
                    if source == "irc":
                        irc.quantize(src, calib).save(out)
                    else:
                        ort_quantized(src, calib, out, "QDQ" if source == "ort-qdq" else "QOperator")
                    row = read_back(out, val)
                except Exception as e:  # a failure is a result of this measurement
                    row = {"error": f"{type(e).__name__}: {e}"}
                rows.append({"model": name, "source": source, **row})
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return
    print(f"{'model':<28} {'source':<14} {'text':>5} {'interpreter = onnxruntime (per output)':<44} "
          f"{'re-export':>9} {'int8 kernels':>13}")
    for r in rows:
        if "error" in r:
            print(f"{r['model']:<28} {r['source']:<14} error: {r['error']}")
            continue
        outs = ", ".join(f"{100 * o['equal']:.2f}% ({o['worst']:.3g} {o['unit']})" for o in r["outputs"])
        kernels = f"{r['int8_kernels']}{'' if r['same_kernels'] else ' (differ)'}"
        print(f"{r['model']:<28} {r['source']:<14} {'same' if r['roundtrip'] else 'DIFF':>5} {outs:<44} "
              f"{'same' if r['reexport_identical'] else 'DIFF':>9} {kernels:>13}")


if __name__ == "__main__":
    main()
