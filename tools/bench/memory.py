"""Peak memory of running a variant, measured in a fresh process.

    peak_rss_mb(path, runtime="ort", name="irc", inputs={"x": (3, 224, 224)}, threads=1, batch=1)
    -> {"baseline_mb": 71.2, "peak_mb": 148.9}

The child process runs this file as a script (so that irc's own imports stay out of the
measured process): it imports numpy and the runtime, notes its peak resident set size, loads the
model, runs it `runs` times on random inputs and reports the peak again. A fresh process per
variant keeps one variant's allocations out of the next one's number.

The peak is VmHWM of /proc/self/status on Linux: getrusage's ru_maxrss survives exec, and
Python starts children with vfork, so in the child it would report the parent's peak. Elsewhere
ru_maxrss is used.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def _peak_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0  # bytes vs KiB


def peak_rss_mb(path: Path | str, runtime: str, name: str, inputs: dict[str, tuple[int, ...]], threads: int,
                batch: int, runs: int = 5, timeout: float = 900.0) -> dict:
    """{"baseline_mb", "peak_mb"} of a child process that loads and runs the variant; or {"error"}."""
    cmd = [sys.executable, str(Path(__file__).resolve()), str(path), "--runtime", runtime, "--name", name,
           "--inputs", json.dumps({k: list(v) for k, v in inputs.items()}), "--threads", str(threads),
           "--batch", str(batch), "--runs", str(runs)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return {"error": lines[-1] if lines else f"exit code {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _child(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="memory.py")
    p.add_argument("path")
    p.add_argument("--runtime", choices=["ort", "openvino"], default="ort")
    p.add_argument("--name", default="")
    p.add_argument("--inputs", required=True, help="JSON {name: shape without batch}")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)

    import numpy as np

    if args.runtime == "ort":
        import onnxruntime  # noqa: F401  (counted in the baseline)
    else:
        import openvino  # noqa: F401
    # this file's folder is sys.path[0] when run as a script (mypy sees it as irc.bench.runtimes)
    from runtimes import Runner  # type: ignore[import-not-found]

    baseline = _peak_mb()
    rng = np.random.default_rng(0)
    feeds = {k: rng.standard_normal((args.batch, *v)).astype(np.float32) for k, v in json.loads(args.inputs).items()}
    run = Runner(Path(args.path), args.runtime, args.name).bind(feeds, args.threads)
    for _ in range(args.runs):
        run()
    print(json.dumps({"baseline_mb": round(baseline, 1), "peak_mb": round(_peak_mb(), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(_child())
