"""irc's accuracy budget against NNCF's quantize_with_accuracy_control, on the same model and data.

    python scripts/compare/budget_vs_nncf.py [--model examples/models/digits_mobilenetv2_outlier.onnx]
                                           [--budgets 0.01,0.5%,0.002] [--json] [--markdown FILE]

For each budget both tools start from the fp32 ONNX model, the 300 calibration images and the
450 validation images of examples/data/digits-cls (top-1), and the results are measured the
same way afterwards: top-1 of the written model with irc's evaluator (onnxruntime), and the ops
onnxruntime still runs in float after its QDQ fusions (level EXTENDED: Conv / Gemm / MatMul /
Add / pools not turned into int8 kernels). "ops returned to fp32" is each tool's own count (NNCF
only logs it). Latency: median onnxruntime time of a batch of 32 on one thread (level ALL), a
rough number on a shared machine. Evaluations are counted in full-validation-set
equivalents (NNCF also validates on a ranking subset; 300 of 450 items count as 0.67).

NNCF is optional (`pip install nncf`; never a dependency of irc): without it the NNCF rows say
"not installed" and the script still measures irc.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

import irc
from irc.backends.onnx.ort_kernels import optimized_model
from irc.data import iter_batches, load_preprocess, open_dataset
from irc.evaluation import evaluate
from irc.model_runner import open_model

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "examples" / "data" / "digits-cls"
PREPROCESS = REPO / "examples" / "models" / "digits_cls.toml"
MODEL = REPO / "examples" / "models" / "digits_mobilenetv2_outlier.onnx"

QUANTIZABLE_FLOAT = {"Conv", "FusedConv", "Gemm", "FusedGemm", "MatMul", "FusedMatMul", "Add",
                     "GlobalAveragePool", "AveragePool", "Concat"}


def float_ops(model: onnx.ModelProto) -> dict[str, int]:
    """Quantizable node types onnxruntime (level EXTENDED) still runs in float, and int8 kernels."""
    opt = optimized_model(model, "extended")
    kinds = [n.op_type for n in opt.graph.node]
    flt = sum(k in QUANTIZABLE_FLOAT for k in kinds)
    int8 = sum(k.startswith(("QLinear", "QGemm")) for k in kinds)
    return {"float": flt, "int8": int8}


def latency_ms(model: onnx.ModelProto, rounds: int = 40) -> float:
    """Median onnxruntime time (ms) of one batch of 32 random images, one thread, level ALL."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    x = np.random.default_rng(0).uniform(-1, 1, (32, *inp.shape[1:])).astype(np.float32)
    for _ in range(3):
        sess.run(None, {inp.name: x})
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        sess.run(None, {inp.name: x})
        times.append(1e3 * (time.perf_counter() - t))
    return float(np.median(times))


def top1(model: onnx.ModelProto, tmp: Path, name: str) -> float:
    path = tmp / f"{name}.onnx"
    onnx.save(model, path)
    ds = open_dataset(DATA / "val", preprocess=load_preprocess(PREPROCESS))
    return evaluate(path, ds, ["top1"], progress=False).values["top1"]


def run_irc(model: Path, budget: str, tmp: Path) -> dict:
    t0 = time.perf_counter()
    r = irc.quantize(model, DATA / "calib", preprocess=str(PREPROCESS), val=str(DATA / "val"), max_drop=budget)
    seconds = time.perf_counter() - t0
    b = r.budget
    return {"tool": "irc", "budget": budget, "fp32_top1": b.fp32_metric, "int8_top1": b.int8_metric,
            "final_top1": top1(r.model, tmp, "irc"), "fp32_ops": len(b.fp32_ops), "met": b.met,
            "evaluations": float(b.evaluations), "seconds": seconds, "ms": latency_ms(r.model),
            **{f"ort_{k}": v for k, v in
                                                                         float_ops(r.model).items()}}


def _samples(split: str, spec) -> tuple[list[np.ndarray], list[int]]:
    ds = open_dataset(DATA / split, preprocess=load_preprocess(PREPROCESS))
    xs, ys = [], []
    for b in iter_batches(ds, [spec], batch_size=64):
        xs.extend(b.inputs[spec.name][i:i + 1] for i in range(len(b)))
        ys.extend(int(y) for y in b.labels)
    return xs, ys


@contextlib.contextmanager
def _stdout_to_stderr():
    """NNCF logs and draws progress on stdout; keep stdout for the table / JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


class _Collect(logging.Handler):
    """Keeps NNCF's log lines (its count of reverted operations is only logged)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def run_nncf(model: Path, budget: str, tmp: Path, preset: str) -> dict:
    try:
        import nncf
    except ImportError:
        return {"tool": f"nncf ({preset})", "budget": budget, "skipped": "nncf is not installed"}
    import onnxruntime as ort

    spec = open_model(model).inputs[0]
    cx, _ = _samples("calib", spec)
    vx, vy = _samples("val", spec)
    items = list(zip(vx, vy))
    calls: list[tuple[int, float]] = []

    def validate(m: onnx.ModelProto, data) -> tuple[float, list[float]]:
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        batch = list(data)
        x = np.concatenate([b[0] for b in batch])
        y = np.array([b[1] for b in batch])
        pred = sess.run(None, {name: x})[0].argmax(1)
        hits = (pred == y).astype(np.float64)
        calls.append((len(batch), float(hits.mean())))
        return float(hits.mean()), hits.tolist()

    relative = budget.endswith("%")
    drop = float(budget.rstrip("%")) / (100.0 if relative else 1.0)
    log = _Collect()
    logging.getLogger("nncf").addHandler(log)
    t0 = time.perf_counter()
    try:
        with _stdout_to_stderr():
            q = _nncf_ac(nncf, model, spec, cx, items, validate, drop, relative, preset)
    finally:
        logging.getLogger("nncf").removeHandler(log)
    seconds = time.perf_counter() - t0
    reverted = [int(m.group(1)) for m in map(re.compile(r"(\d+) out of \d+ were reverted").search, log.lines) if m]
    full = [m for n, m in calls if n == len(items)]
    return {"tool": f"nncf ({preset})", "budget": budget, "fp32_top1": full[0] if full else None,
            "int8_top1": full[1] if len(full) > 1 else None, "final_top1": top1(q, tmp, "nncf"),
            "fp32_ops": reverted[-1] if reverted else 0,
            "evaluations": sum(n for n, _ in calls) / len(items), "validation_calls": len(calls),
            "seconds": seconds, "ms": latency_ms(q), **{f"ort_{k}": v for k, v in float_ops(q).items()}}


def _nncf_ac(nncf, model, spec, cx, items, validate, drop, relative, preset):
    return nncf.quantize_with_accuracy_control(
        onnx.load(model), nncf.Dataset([{spec.name: x} for x in cx]),
        nncf.Dataset(items), validate, max_drop=drop,
        drop_type=nncf.DropType.RELATIVE if relative else nncf.DropType.ABSOLUTE, subset_size=300,
        preset=nncf.QuantizationPreset.MIXED if preset == "mixed" else nncf.QuantizationPreset.PERFORMANCE)


def in_budget(r: dict) -> bool:
    """The final model's drop against the fp32 top-1 is within the row's budget."""
    b = r["budget"]
    allowed = float(b.rstrip("%")) / 100 * r["fp32_top1"] if b.endswith("%") else float(b)
    return r["fp32_top1"] - r["final_top1"] <= allowed + 1e-12


def markdown(rows: list[dict]) -> str:
    head = ("| budget | tool | fp32 top-1 | full int8 top-1 | final top-1 | in budget | ops returned to fp32 "
            "(tool's count) | quantizable ops left float (onnxruntime) | int8 kernels | full evaluations | "
            "wall time | ms / batch of 32 |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['budget']} | {r['tool']} | {r['skipped']} | | | | | | | | | |")
            continue

        def pct(x):
            return "-" if x is None else f"{100 * x:.2f}%"

        lines.append(f"| {r['budget']} | {r['tool']} | {pct(r['fp32_top1'])} | {pct(r['int8_top1'])} | "
                     f"{pct(r['final_top1'])} | {'yes' if in_budget(r) else 'no'} | {r['fp32_ops']} | "
                     f"{r['ort_float']} | {r['ort_int8']} | {r['evaluations']:.2f} | "
                     f"{r['seconds']:.1f} s | {r['ms']:.2f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=MODEL)
    ap.add_argument("--budgets", default="0.01,0.5%,0.002")
    ap.add_argument("--nncf-presets", default="performance,mixed",
                    help="NNCF presets to run: performance (int8 symmetric activations, NNCF's default) "
                         "and/or mixed (asymmetric activations)")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="irc-vs-nncf-") as d:
        tmp = Path(d)
        for budget in args.budgets.split(","):
            rows.append(run_irc(args.model, budget, tmp))
            for preset in args.nncf_presets.split(","):
                rows.append(run_nncf(args.model, budget, tmp, preset))
            print(f"budget {budget} done", file=sys.stderr)
    fp32_ms = latency_ms(onnx.load(args.model))
    table = markdown(rows) + f"\n\nfp32 model: {fp32_ms:.2f} ms / batch of 32 (same timing)."
    for r in rows:
        r.setdefault("fp32_ms", fp32_ms)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    print(json.dumps(rows, indent=2) if args.json else table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
