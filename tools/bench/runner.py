"""The benchmark loop: for every model, build the variants, check kernels, time, measure memory.

See irc.bench for the result's layout. Timing per (threads, batch) cell alternates the
variants round by round (irc.bench.timing). Sessions are created per thread count and shared by
the batch sizes; peak memory is measured in a fresh process per variant at the first batch size
and thread count.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .kernels import count_compute, kernel_check
from .memory import peak_rss_mb
from .models import BenchModel, prepare_model, resolve_models
from .report import geomeans
from .runtimes import Runner
from .timing import alternate, summarize
from .variants import REFERENCE, Variant, build_variant, check_variants

SCHEMA = "irc-bench/1"


@dataclass
class BenchOptions:
    variants: list[str] = field(default_factory=lambda: ["fp32", "irc", "ort"])
    batches: list[int] = field(default_factory=lambda: [1, 8])
    threads: list[int] = field(default_factory=lambda: [1, 2])
    rounds: int = 100                 # at most this many rounds per cell
    min_rounds: int = 5               # at least this many, even past the budget
    budget_seconds: float = 8.0       # per (model, threads, batch) cell
    warmup: int = 2
    calib_samples: int = 32
    seed: int = 0
    memory: bool = True
    kernels: bool = True
    keep_files: bool = True
    quantize_options: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def default_workdir() -> Path:
    """$XDG_CACHE_HOME/irc/bench, else ~/.cache/irc/bench."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "irc" / "bench"


def environment() -> dict:
    import onnx
    import onnxruntime

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    env = {"python": platform.python_version(), "onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__,
           "numpy": np.__version__, "cpu": cpu, "cpus": os.cpu_count(), "platform": platform.platform()}
    for mod in ("openvino", "nncf"):
        try:
            env[mod] = __import__(mod).__version__
        except Exception:
            pass
    if hasattr(os, "getloadavg"):
        env["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    return env


def _cosine(a: list[np.ndarray], b: list[np.ndarray]) -> dict:
    """{"cosine": value} of all outputs concatenated; None with a note when it is undefined."""
    x = np.concatenate([np.asarray(o, np.float64).ravel() for o in a])
    y = np.concatenate([np.asarray(o, np.float64).ravel() for o in b])
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return {"cosine": None, "cosine_note": "non-finite output"}
    if not np.linalg.norm(x):
        return {"cosine": None, "cosine_note": "all-zero output"}
    return {"cosine": float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))}


def _file_mb(path: Path | None) -> float | None:
    if path is None or not path.exists():
        return None
    size = path.stat().st_size
    if path.suffix == ".xml" and path.with_suffix(".bin").exists():  # OpenVINO IR: .xml + .bin
        size += path.with_suffix(".bin").stat().st_size
    return size / 1e6


class _Progress:
    """A tqdm bar over all steps of the run, or nothing."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="step", file=sys.stderr, dynamic_ncols=True, leave=False)

    def step(self, model: str, what: str, advance: int = 1) -> None:
        if self.bar is not None:
            self.bar.set_description(model)
            self.bar.set_postfix_str(what)
            self.bar.update(advance)

    def note(self, what: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(what)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _batches_for(model: BenchModel, batches: list[int]) -> dict[int, str | None]:
    """batch -> None to run it, or the reason it is skipped."""
    fixed = model.fixed_batch
    return {b: None if fixed is None or fixed == b else f"the model's batch is fixed at {fixed}" for b in batches}


def _bench_model(label: str, source: str, opts: BenchOptions, workdir: Path, quantize: Callable | None,
                 progress: _Progress) -> dict:
    folder = workdir / label
    folder.mkdir(parents=True, exist_ok=True)
    progress.step(label, "fp32 model", advance=0)
    model = prepare_model(label, source, folder, opts.seed)
    import onnx

    entry: dict = {"name": label, "source": source, "inputs": {i.name: [None, *i.shape] for i in model.inputs},
                   "compute_nodes": count_compute(onnx.load(str(model.fp32_path), load_external_data=False)),
                   "variants": {}, "timings": []}
    calib = model.calibration(opts.calib_samples, opts.seed)
    built: dict[str, Variant] = {}
    for name in opts.variants:
        progress.note(f"building {name}")
        v = build_variant(name, model, folder, calib, quantize, opts.quantize_options)
        built[name] = v
        entry["variants"][name] = {"file": str(v.path) if v.path else None, "file_mb": _file_mb(v.path),
                                   "build_seconds": round(v.build_seconds, 2), "runtime": v.runtime, **v.info}
        if v.error:
            entry["variants"][name]["error"] = v.error
        elif opts.kernels and v.int8 and v.runtime == "ort":
            progress.note(f"kernel check {name}")
            try:
                entry["variants"][name]["kernels"] = kernel_check(v.file)
            except Exception as e:
                entry["variants"][name]["kernels"] = {"error": f"{type(e).__name__}: {e}"}
        progress.step(label, f"built {name}")
    if built[REFERENCE].error:
        raise RuntimeError(f"{label}: the fp32 model does not build: {built[REFERENCE].error}")

    runners = {n: Runner(v.file, v.runtime, n) for n, v in built.items() if not v.error}
    skip = _batches_for(model, opts.batches)
    first = True
    for threads in opts.threads:
        for batch in opts.batches:
            cell: dict = {"threads": threads, "batch": batch}
            entry["timings"].append(cell)
            if skip[batch]:
                cell["skipped"] = skip[batch]
                progress.step(label, f"t={threads} b={batch} skipped")
                continue
            feeds = model.feeds(batch, opts.seed + 1)
            runs: dict = {}
            for n, r in list(runners.items()):
                try:
                    runs[n] = r.bind(feeds, threads)
                    if first:
                        outs = r.outputs(feeds, threads)
                        if n == REFERENCE:
                            ref_out = outs
                        else:
                            entry["variants"][n].update(_cosine(outs, ref_out))
                except Exception as e:  # a file the runtime refuses: report it, time the rest
                    if n == REFERENCE:
                        raise
                    entry["variants"][n]["error"] = f"{type(e).__name__}: {e}"
                    runners.pop(n)
                    runs.pop(n, None)
            first = False
            progress.note(f"t={threads} b={batch} timing")

            def on_round(k: int, t: int = threads, b: int = batch) -> None:
                progress.note(f"t={t} b={b} round {k}")

            times = alternate(runs, max_rounds=opts.rounds, min_rounds=opts.min_rounds,
                              budget_seconds=opts.budget_seconds, warmup=opts.warmup, on_round=on_round)
            stats = summarize(times, REFERENCE)
            cell.update(stats)
            if "irc" in times and "ort" in times:
                cell["irc_vs_ort"] = float(np.median([o / i for o, i in zip(times["ort"], times["irc"])]))
            progress.step(label, f"t={threads} b={batch} {stats['rounds']} rounds")
    runners.clear()  # free the sessions before the memory children start
    if opts.memory:
        mb = opts.batches[0] if not skip[opts.batches[0]] else (model.fixed_batch or 1)
        for n, v in built.items():
            if v.error:
                continue
            progress.note(f"memory {n}")
            entry["variants"][n]["memory"] = peak_rss_mb(v.file, v.runtime, n, {i.name: i.shape for i in model.inputs},
                                                         opts.threads[0], mb)
        entry["memory_cell"] = {"threads": opts.threads[0], "batch": mb}
    progress.step(label, "memory")
    if not opts.keep_files and source == "zoo":
        shutil.rmtree(folder, ignore_errors=True)
    return entry


def run_bench(models: list[str], opts: BenchOptions | None = None, *, workdir: Path | str | None = None,
              quantize: Callable | None = None, progress: bool = False, command: str | None = None) -> dict:
    """Benchmark `models` (zoo names or .onnx paths); returns the JSON-ready result (see irc.bench).

    `quantize` is the irc quantizer, called as quantize(model_path, calib, **opts.quantize_options)
    and returning an object with `.model` (the QDQ onnx.ModelProto) and optionally `.graph`;
    by default irc.quantize.
    """
    from irc.ir.diagnostics import IRError

    opts = opts or BenchOptions()
    opts.variants = check_variants(opts.variants)
    for what, vals in (("batch", opts.batches), ("threads", opts.threads)):
        if not vals or any(v < 1 for v in vals):
            raise IRError(f"--{what} needs positive integers, got {vals}")
    if opts.rounds < 1 or opts.calib_samples < 1 or opts.budget_seconds < 0:
        raise IRError("--rounds and --calib-samples must be at least 1, --budget-seconds not negative")
    resolved = resolve_models(models)
    if not resolved:
        raise IRError("no models given")
    if "irc" in opts.variants and quantize is None:
        import irc

        quantize = getattr(irc, "quantize", None)
        if quantize is None:
            raise IRError("this irc has no irc.quantize; run without the irc variant (--variants fp32,ort)")
    workdir = Path(workdir) if workdir else default_workdir()
    workdir.mkdir(parents=True, exist_ok=True)

    result: dict[str, Any] = {"schema": SCHEMA, "command": command, "environment": environment(), "options": opts.to_json(),
              "workdir": str(workdir), "reference": REFERENCE, "variants": list(opts.variants), "models": []}
    cells = len(opts.batches) * len(opts.threads)
    bar = _Progress(len(resolved) * (len(opts.variants) + cells + 1), progress)
    t0 = time.perf_counter()
    try:
        for label, source in resolved:
            result["models"].append(_bench_model(label, source, opts, workdir, quantize, bar))
    finally:
        bar.close()
    result["seconds"] = round(time.perf_counter() - t0, 1)
    if hasattr(os, "getloadavg"):
        result["environment"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["geomean"] = geomeans(result)
    return result
