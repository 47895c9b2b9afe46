"""One corpus model through one quantizer, in its own process (irc.bench.corpus starts it).

    python -m irc.bench.corpus_job MODEL_DIR --quantizer irc --out-dir W --result R.json

MODEL_DIR holds model.onnx, calib.npz, heldout.npz and meta.json (irc.bench.corpus). The job
quantizes the model (`irc`: irc.quantize with its defaults plus --options; `ort`: onnxruntime's
quant_pre_process and quantize_static as the bench's `ort` variant; `ort-dynamic`: its
quantize_dynamic with default settings), writes the int8 file to
W/<quantizer>.onnx, loads it and the fp32 model in onnxruntime with default session options
(ORT_ENABLE_ALL), runs every held-out sample through both and compares the outputs, and counts
the int8 kernels in onnxruntime's optimized graph (irc.bench.kernels); with --speed it times
the int8 file against the fp32 one, alternating (irc.bench.timing). It writes R.json:

    {"status": "ok" | "error", "stage": "data" | "fp32" | "quantize" | "load" | "run" | "kernels",
     "error": one line, "detail": the full message, "cosine": min over float outputs,
     "outputs": {name: {"cosine" | "equal" (integer outputs), "note"?}}, "kernels": {...},
     "info": {...}, "seconds": {"quantize", "total"}, "speedup"?: {"t2b1": 1.6, ...}}

A failing stage ends the job with status "error"; the job itself exits 0 whenever it wrote its
result, so the parent can tell a recorded failure from a crash.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import numpy as np


class StageError(Exception):
    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(stage)
        self.stage, self.error = stage, error


_ORT_CODE = re.compile(r"\[ONNXRuntimeError\] : \d+ : (\w+) : ")
_ORT_LOAD = re.compile(r"Load model from \S+ failed:\s*")
_ORT_NODE = re.compile(r'(?:This is an invalid model\. )?In Node, \("([^"]*)", (\w+), [^)]*\) : \(.*?\) -> \(.*?\) , '
                       r'Error (.*)$')
_NODE_LIST = re.compile(r"^(\S+) \((\d+ nodes?)\): .*$")


def one_line(error: BaseException) -> str:
    """The error as one line: its lines joined, onnxruntime's boilerplate and long node lists
    ("Op (3 nodes): a, b, c" -> "Op (3 nodes)") left out, prefixed by its type unless an IRError."""
    from irc.ir.diagnostics import IRError

    lines = [ln.strip() for ln in str(error).strip().splitlines() if ln.strip()]
    lines = [lines[0], *(_NODE_LIST.sub(r"\1 (\2)", ln) for ln in lines[1:])] if lines else []
    text = " ".join(lines)
    text = _ORT_NODE.sub(r"\3 (\2 node \1)", _ORT_LOAD.sub("", _ORT_CODE.sub(r"\1: ", text)))
    if isinstance(error, IRError):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _session(path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()  # the defaults a user gets: ORT_ENABLE_ALL, all cores
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _fixed_batch(meta: dict) -> bool:
    return any(i.get("shape") and isinstance(i["shape"][0], int) for i in meta.get("inputs", []))


def _batch_of(meta: dict) -> int:
    """How many samples one run takes: the inputs' fixed leading dimension, else 1."""
    fixed = {i["shape"][0] for i in meta.get("inputs", []) if i.get("shape") and isinstance(i["shape"][0], int)}
    return fixed.pop() if len(fixed) == 1 else 1


def run_samples(sess, data: dict[str, np.ndarray], batch: int) -> list[list[np.ndarray]]:
    """The session's outputs on consecutive slices of `batch` samples."""
    n = len(next(iter(data.values())))
    return [sess.run(None, {k: v[i:i + batch] for k, v in data.items()}) for i in range(0, n - batch + 1, batch)]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    x, y = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if nx == 0 and ny == 0:
        return 1.0
    if nx == 0 or ny == 0:
        return 0.0
    return float(x @ y / (nx * ny))


def compare(names: list[str], ref: list[list[np.ndarray]], got: list[list[np.ndarray]]) -> dict:
    """Per output: the mean over samples of the cosine to fp32 (float outputs), or the fraction of
    samples that are equal (integer and boolean outputs); and the min of the cosines."""
    outputs = {}
    for j, name in enumerate(names):
        pairs = [(r[j], g[j]) for r, g in zip(ref, got)]
        entry: dict = {}
        if not np.issubdtype(pairs[0][0].dtype, np.floating):  # indices, counts, masks (of any shape)
            entry["equal"] = float(np.mean([np.array_equal(r, g) for r, g in pairs]))
        elif any(r.shape != g.shape for r, g in pairs):
            entry["note"] = "shape differs from fp32"
            bad = [(r.shape, g.shape) for r, g in pairs if r.shape != g.shape]
            entry["shapes"] = [list(bad[0][0]), list(bad[0][1])]
        elif not all(np.isfinite(g).all() for _, g in pairs):
            entry["note"] = "non-finite output"
        else:
            entry["cosine"] = float(np.mean([_cosine(r, g) for r, g in pairs]))
        outputs[name] = entry
    float_outs = [e for e in outputs.values() if "equal" not in e]
    if any("note" in e for e in float_outs):
        cosine = None
    else:
        cosine = min((e["cosine"] for e in float_outs), default=None)
    return {"cosine": cosine, "outputs": outputs}


def _load_hook(spec: str):
    """FILE.py:FUNCTION, a quantize function with irc.quantize's signature (for tests)."""
    path, _, func = spec.rpartition(":")
    module_spec = importlib.util.spec_from_file_location("corpus_quantize_hook", path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"{path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, func)


def _quantize(quantizer: str, model_path: Path, calib: dict, out: Path, options: dict, hook: str | None) -> dict:
    from irc.ir.weights_io import atomic_write_bytes

    if quantizer == "irc":
        if hook:
            quantize = _load_hook(hook)
        else:
            from irc.quantize import quantize
        result = quantize(str(model_path), calib, **options)
        atomic_write_bytes(out, result.model.SerializeToString())
        return {"warnings": list(getattr(result, "warnings", []) or [])}
    if quantizer == "ort":
        from .models import BenchModel
        from .variants import build_ort

        v = build_ort(BenchModel(model_path.parent.name, str(model_path), model_path), out.parent, calib)
        return dict(v.info)
    if quantizer == "ort-dynamic":
        from .variants import build_ort_dynamic

        return build_ort_dynamic(model_path, out)
    raise ValueError(f"unknown quantizer {quantizer!r}")


def _stage(name: str, fn, *args):
    try:
        return fn(*args)
    except Exception as e:
        raise StageError(name, e) from e


def speedups(fp32_path: Path, int8_path: Path, data: dict[str, np.ndarray], fixed_batch: int | None,
             threads: list[int], batches: list[int], seconds: float) -> dict[str, float]:
    """{"t<threads>b<batch>": t_fp32 / t_int8}: the median over rounds in which both ran once, in
    alternating order (irc.bench.timing), on the first `batch` held-out samples."""
    from .runtimes import ort_session
    from .timing import alternate, summarize

    n = len(next(iter(data.values())))
    out = {}
    for t in threads:
        sessions = {"fp32": ort_session(fp32_path, t), "int8": ort_session(int8_path, t)}
        for b in ([fixed_batch] if fixed_batch else batches):
            if b > n:
                continue
            feed = {k: v[:b] for k, v in data.items()}
            runs = {k: (lambda s=s, feed=feed: s.run(None, feed)) for k, s in sessions.items()}
            stats = summarize(alternate(runs, budget_seconds=seconds, max_rounds=200), "fp32")
            out[f"t{t}b{b}"] = round(stats["variants"]["int8"]["speedup"], 3)
    return out


def run_job(model_dir: Path, quantizer: str, out_dir: Path, options: dict, hook: str | None = None,
            kernels: bool = True, speed: dict | None = None) -> dict:
    from irc.commands._common import read_npz

    from .kernels import kernel_check

    t0 = time.perf_counter()
    result: dict = {"quantizer": quantizer, "status": "ok", "seconds": {}}
    try:
        meta = _stage("data", lambda: json.loads((model_dir / "meta.json").read_text()))
        model_path = model_dir / "model.onnx"
        calib = _stage("data", read_npz, str(model_dir / "calib.npz"), "calibration")
        heldout = _stage("data", read_npz, str(model_dir / "heldout.npz"), "held-out inputs")
        batch = _batch_of(meta)

        fp32 = _stage("fp32", _session, model_path)
        names = [o.name for o in fp32.get_outputs()]
        ref = _stage("fp32", run_samples, fp32, heldout, batch)
        del fp32

        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / f"{quantizer}.onnx"
        t = time.perf_counter()
        result["info"] = _stage("quantize", _quantize, quantizer, model_path, calib, out, options, hook)
        result["seconds"]["quantize"] = round(time.perf_counter() - t, 2)
        result["file"] = str(out)
        result["file_mb"] = out.stat().st_size / 1e6

        sess = _stage("load", _session, out)
        got = _stage("run", run_samples, sess, heldout, batch)
        del sess
        result.update(compare(names, ref, got))
        if kernels:
            result["kernels"] = _stage("kernels", kernel_check, out)
        if speed:
            fixed = _batch_of(meta) if _fixed_batch(meta) else None
            result["speedup"] = _stage("speed", speedups, model_path, out, heldout, fixed, speed["threads"],
                                       speed["batches"], speed["seconds"])
    except StageError as e:
        result.update(status="error", stage=e.stage, error=one_line(e.error), detail=str(e.error)[:4000])
    result["seconds"]["total"] = round(time.perf_counter() - t0, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m irc.bench.corpus_job")
    p.add_argument("model_dir", type=Path)
    p.add_argument("--quantizer", choices=["irc", "ort", "ort-dynamic"], required=True)
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--result", type=Path, required=True)
    p.add_argument("--options", default="{}", help="JSON keyword arguments for irc.quantize")
    p.add_argument("--quantize-hook", help="FILE.py:FUNCTION used instead of irc.quantize")
    p.add_argument("--no-kernels", action="store_true")
    p.add_argument("--speed", default=None, help='JSON {"threads": [...], "batches": [...], "seconds": S}: '
                                                  "time the int8 file against fp32")
    args = p.parse_args(argv)
    from irc.ir.weights_io import atomic_write_bytes

    result = run_job(args.model_dir, args.quantizer, args.out_dir, json.loads(args.options), args.quantize_hook,
                     kernels=not args.no_kernels, speed=json.loads(args.speed) if args.speed else None)
    atomic_write_bytes(args.result, (json.dumps(result, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
