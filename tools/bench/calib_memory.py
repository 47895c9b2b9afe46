"""Calibration cost on ResNet50: peak memory against the number of samples, and wall time
against onnxruntime's own static quantization.

    python -m irc.bench.calib_memory                          # both measurements
    python -m irc.bench.calib_memory --skip-time --method entropy --samples 100 1000
    python -m irc.bench.calib_memory --skip-memory --with-fuse --repeat 3

Memory: calibrates ResNet50 (irc.zoo's realistic-weights copy of onnx's light ResNet50) on N
random-normal samples, for each N in --samples, each in a fresh subprocess, and prints the
process's peak resident set size (getrusage ru_maxrss) after setup (model imported and folded)
and at the end, with the ratio of the last N's peak to the first's. The samples are generated
batch by batch inside the calibration loop, so what is measured is calibration, not the data.

Time: the same 300 samples (seed 0) are given to
  irc:  import the .onnx, fold, calibrate{method=minmax}   (and, with --with-fuse, fold,fuse,calibrate)
  ort:  onnxruntime.quantization.quantize_static with its defaults (MinMax calibrator, QDQ),
        fed by a CalibrationDataReader over the same arrays
each in a fresh subprocess, timed from the start of the work (module imports and data
generation excluded on both sides). irc's quantize pass is not part of the irc timing. With
--repeat N the sides alternate N times and the median is reported (on a shared machine the
load changes from minute to minute).

A benchmark script (not imported by irc; `irc bench` is the general benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODEL = "resnet50"


def _maxrss_mb() -> float:
    # Linux reports kilobytes
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_model(path: Path) -> str:
    """Save the realistic-weights ResNet50 to `path`; returns its input name."""
    import onnx

    from irc.zoo import realistic_light_model

    model = realistic_light_model(MODEL)
    # the light models are IR version 3, where every initializer must also be a graph input;
    # realistic_light_model drops them from the inputs, so declare the version that allows that
    model.ir_version = max(model.ir_version, 4)
    onnx.save(model, str(path))
    return model.graph.input[0].name


def random_batches(name: str, shape: tuple[int, ...], samples: int, batch: int, seed: int = 0):
    """Random-normal samples, generated a batch at a time (nothing is kept)."""
    rng = np.random.default_rng(seed)
    for start in range(0, samples, batch):
        n = min(batch, samples - start)
        yield {name: rng.standard_normal((n, *shape[1:]), dtype=np.float32)}


# -- children -----------------------------------------------------------------------------------

def child_memory(model_path: str, samples: int, method: str, threads: int) -> dict:
    from irc.backends.onnx import import_onnx
    from irc.passes import PassContext, PassManager

    graph = import_onnx(model_path)
    PassManager("fold").run(graph, PassContext(quiet=True))
    x = graph.inputs[0]
    setup_peak = _maxrss_mb()
    ctx = PassContext(quiet=True, calib=lambda: random_batches(x.io_name, x.type.static_shape(), samples, 32))
    start = time.perf_counter()
    PassManager(f"calibrate{{method={method} threads={threads}}}").run(graph, ctx)
    return {"samples": samples, "setup_peak_mb": setup_peak, "peak_mb": _maxrss_mb(),
            "seconds": time.perf_counter() - start, "stats": ctx.stats["calibrate"]}


def _fixed_data(samples: int) -> np.ndarray:
    """The time comparison's samples: the same arrays for both sides (seed 0)."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((samples, 3, 224, 224), dtype=np.float32)


def child_time_irc(model_path: str, name: str, samples: int, pipeline: str, threads: int) -> dict:
    from irc.backends.onnx import import_onnx
    from irc.passes import PassContext, PassManager

    data = _fixed_data(samples)
    pipeline = pipeline.replace("calibrate", f"calibrate{{method=minmax threads={threads}}}")
    start = time.perf_counter()
    graph = import_onnx(model_path)
    t_import = time.perf_counter() - start
    ctx = PassContext(quiet=True, calib=[{name: data}])
    PassManager(pipeline).run(graph, ctx)
    total = time.perf_counter() - start
    return {"pipeline": pipeline, "seconds": total, "import_seconds": t_import,
            "calibrate_seconds": ctx.stats["calibrate"]["seconds"], "samples": ctx.stats["calibrate"]["samples"],
            "peak_mb": _maxrss_mb()}


def child_time_ort(model_path: str, name: str, samples: int) -> dict:
    from onnxruntime.quantization import CalibrationDataReader, quantize_static

    data = _fixed_data(samples)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.i = 0

        def get_next(self):
            if self.i >= len(data):
                return None
            self.i += 1
            return {name: data[self.i - 1:self.i]}

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "q.onnx"
        start = time.perf_counter()
        quantize_static(model_path, str(out), Reader())
        total = time.perf_counter() - start
    return {"seconds": total, "samples": samples, "peak_mb": _maxrss_mb()}


# -- parent -------------------------------------------------------------------------------------

def _child(args: list[str]) -> dict:
    env = dict(os.environ)
    # as a module when run with -m (a script's folder on sys.path would expose irc.bench's
    # modules as top-level names)
    me = ["-m", __spec__.name] if __spec__ is not None and __spec__.name else [__file__]
    proc = subprocess.run([sys.executable, *me, *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"child {' '.join(args)} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, nargs="+", default=[100, 1000], help="sample counts for the memory runs")
    p.add_argument("--method", default="minmax", help="calibrate method for the memory runs")
    p.add_argument("--time-samples", type=int, default=300, help="samples for the time comparison")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads for irc (0: default)")
    p.add_argument("--with-fuse", action="store_true", help="also time fold,fuse,calibrate")
    p.add_argument("--repeat", type=int, default=1,
                   help="time each side this many times, alternating, and report the median (a busy "
                        "machine's load changes from minute to minute)")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-time", action="store_true")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    # internal: the subprocess entry points
    p.add_argument("--child", choices=["memory", "irc", "ort"], help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--name", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--pipeline", default="fold,calibrate", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child == "memory":
        print(json.dumps(child_memory(args.model, args.n, args.method, args.threads)))
        return 0
    if args.child == "irc":
        print(json.dumps(child_time_irc(args.model, args.name, args.n, args.pipeline, args.threads)))
        return 0
    if args.child == "ort":
        print(json.dumps(child_time_ort(args.model, args.name, args.n)))
        return 0

    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        model_path = str(Path(tmp) / f"{MODEL}.onnx")
        name = write_model(Path(model_path))
        if not args.skip_memory:
            runs = [_child(["--child", "memory", "--model", model_path, "--n", str(n), "--method", args.method,
                            "--threads", str(args.threads)]) for n in args.samples]
            results["memory"] = runs
            if not args.json:
                print(f"calibrate{{method={args.method}}} on {MODEL}, peak RSS (MB):")
                print(f"{'samples':>8}  {'after setup':>12}  {'peak':>8}  {'seconds':>8}")
                for r in runs:
                    print(f"{r['samples']:>8}  {r['setup_peak_mb']:>12.1f}  {r['peak_mb']:>8.1f}  {r['seconds']:>8.1f}")
                ratio = runs[-1]["peak_mb"] / runs[0]["peak_mb"]
                print(f"peak ratio {runs[-1]['samples']} / {runs[0]['samples']} samples: {ratio:.3f}")
        if not args.skip_time:
            n = str(args.time_samples)
            pipelines = ["fold,calibrate"] + (["fold,fuse,calibrate"] if args.with_fuse else [])
            timings: dict[str, list[dict]] = {pl: [] for pl in pipelines}
            timings["onnxruntime"] = []
            for _ in range(max(1, args.repeat)):
                for pl in pipelines:
                    timings[pl].append(_child(["--child", "irc", "--model", model_path, "--name", name, "--n", n,
                                            "--pipeline", pl, "--threads", str(args.threads)]))
                timings["onnxruntime"].append(_child(["--child", "ort", "--model", model_path, "--name", name, "--n", n]))
            results["time"] = timings
            if not args.json:
                print(f"\nwall time on {n} samples, seconds (median of {max(1, args.repeat)}; every run listed):")
                for key, rs in timings.items():
                    secs = sorted(r["seconds"] for r in rs)
                    label = ("onnxruntime quantize_static (MinMax, QDQ)" if key == "onnxruntime"
                             else f"irc import + {key} (calibrate method=minmax)")
                    detail = ""
                    if key != "onnxruntime":
                        detail = "; calibrate " + ", ".join(f"{r['calibrate_seconds']:.1f}" for r in rs)
                    listed = ", ".join(f"{r['seconds']:.1f}" for r in rs)
                    peak = max(r["peak_mb"] for r in rs)
                    print(f"  {label}: {secs[len(secs) // 2]:.1f}  (runs: {listed}{detail}; peak {peak:.0f} MB)")
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
