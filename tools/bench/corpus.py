"""`irc bench --corpus DIR`: irc and onnxruntime's quantizer on a corpus of exported models.

    from irc.bench.corpus import CorpusOptions, run_corpus, format_corpus_report
    result = run_corpus("corpus/", CorpusOptions())
    print(format_corpus_report(result))

A corpus is a folder with one sub-folder per model (scripts/corpus/export_corpus.py writes one):

    NAME/model.onnx     the fp32 model
    NAME/calib.npz      calibration samples, one array per model input, leading sample axis
    NAME/heldout.npz    other samples in the same layout, for the comparison with fp32
    NAME/meta.json      at least {"exporter", "opset"}; "family" and "inputs" when known

Every model goes through every quantizer (`irc`: irc.quantize with its defaults; `ort`:
onnxruntime's quant_pre_process and quantize_static, QDQ, per-channel s8 weights, u8
activations, as the bench's `ort` variant; `ort-dynamic`, not by default: its quantize_dynamic) in a fresh process with a timeout
(irc.bench.corpus_job), so that a crash or a hang costs one cell of the table, not the run. Each
job loads its int8 file in onnxruntime with default session options, runs the held-out samples,
compares every output with the fp32 model's (cosine: mean over samples, min over outputs) and
counts the int8 kernels in onnxruntime's optimized graph; with `speed` it also times the int8
file against fp32 in the same process (alternating rounds, speedup = median of per-round
ratios) per thread count and batch size.

The result is a JSON-ready dict:

    {"schema": "irc-corpus/1", "command", "environment", "corpus", "workdir", "quantizers",
     "options", "seconds",
     "models": [{"name", "family", "exporter", "opset", "file_mb",
                 QUANTIZER: {"status": "ok" | "error", "error"?, "stage"?, "cosine", "outputs",
                             "kernels", "info", "seconds", ...}}],
     "summary": {QUANTIZER: {"ok": n, "models": n}}}
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irc.ir.diagnostics import IRError

SCHEMA = "irc-corpus/1"
QUANTIZERS = ("irc", "ort", "ort-dynamic")
DEFAULT_QUANTIZERS = ("irc", "ort")
MODEL_FILES = ("model.onnx", "calib.npz", "heldout.npz", "meta.json")


@dataclass
class CorpusOptions:
    quantizers: list[str] = field(default_factory=lambda: list(DEFAULT_QUANTIZERS))
    timeout: float = 900.0            # seconds per (model, quantizer) job
    quantize_options: dict = field(default_factory=dict)
    kernels: bool = True
    quantize_hook: str | None = None  # FILE.py:FUNCTION instead of irc.quantize (the runner's tests)
    speed: dict | None = None         # {"threads": [...], "batches": [...], "seconds": S}: time against fp32

    def to_json(self) -> dict:
        return dict(self.__dict__)


def find_models(corpus: Path | str, names: list[str] | None = None) -> list[Path]:
    """The model folders of a corpus, sorted by name (only `names` when given), checked complete."""
    root = Path(corpus)
    if not root.is_dir():
        raise IRError(f"{corpus}: corpus folder not found")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and (p / "model.onnx").exists())
    if not folders:
        raise IRError(f"{corpus}: no model folders (NAME/model.onnx) in the corpus")
    if names:
        by_name = {p.name: p for p in folders}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise IRError(f"{corpus}: no model {unknown[0]!r} in the corpus; it has {', '.join(by_name)}")
        folders = [by_name[n] for n in dict.fromkeys(names)]
    for p in folders:
        missing = [f for f in MODEL_FILES if not (p / f).is_file()]
        if missing:
            raise IRError(f"{p}: missing {', '.join(missing)} (a corpus model needs {', '.join(MODEL_FILES)})")
        try:
            json.loads((p / "meta.json").read_text())
        except ValueError as e:
            raise IRError(f"{p / 'meta.json'}: not valid JSON ({e})") from None
    return folders


def _describe(folder: Path) -> dict:
    meta = json.loads((folder / "meta.json").read_text())
    return {"name": folder.name, "family": meta.get("family"), "exporter": meta.get("exporter"),
            "opset": meta.get("opset"), "file_mb": round((folder / "model.onnx").stat().st_size / 1e6, 3)}


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the job and anything it started
    except (ProcessLookupError, PermissionError):
        proc.kill()


def run_job(folder: Path, quantizer: str, out_dir: Path, opts: CorpusOptions) -> dict:
    """One (model, quantizer) job in a child process; a crash, a hang or a missing result becomes
    an error entry."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, result_path = tempfile.mkstemp(dir=out_dir, prefix=f".{quantizer}.", suffix=".json")
    os.close(fd)
    os.unlink(result_path)
    # the child runs in out_dir (onnxruntime's quant_pre_process leaves temporary files in the
    # working folder), so every path it gets is absolute
    out_dir = out_dir.resolve()
    cmd = [sys.executable, "-m", "irc.bench.corpus_job", str(folder.resolve()), "--quantizer", quantizer,
           "--out-dir", str(out_dir), "--result", os.path.abspath(result_path),
           "--options", json.dumps(opts.quantize_options)]
    if opts.quantize_hook:
        hook = opts.quantize_hook
        cmd += ["--quantize-hook", os.path.abspath(hook) if os.path.exists(hook.split(":")[0]) else hook]
    if not opts.kernels:
        cmd.append("--no-kernels")
    if opts.speed:
        cmd += ["--speed", json.dumps(opts.speed)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            cwd=out_dir)
    try:
        _, stderr = proc.communicate(timeout=opts.timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.communicate()
        return {"status": "error", "stage": "timeout", "error": f"timed out after {opts.timeout:g} s",
                "seconds": {"total": round(time.perf_counter() - t0, 2)}}
    finally:
        if proc.poll() is None:
            _kill(proc)
    try:
        if os.path.exists(result_path):
            with open(result_path) as f:
                return json.load(f)
    finally:
        if os.path.exists(result_path):
            os.unlink(result_path)
    if proc.returncode < 0:
        try:
            sig = signal.Signals(-proc.returncode).name
        except ValueError:
            sig = str(-proc.returncode)
        error = f"the job crashed ({sig})"
    else:
        lines = [ln for ln in (stderr or "").strip().splitlines() if ln.strip()]
        error = lines[-1].strip() if lines else f"the job exited with code {proc.returncode} and no result"
    return {"status": "error", "stage": "crash", "error": error, "detail": (stderr or "")[-4000:],
            "seconds": {"total": round(time.perf_counter() - t0, 2)}}


def check_quantizers(names: list[str]) -> list[str]:
    names = [n for n in names if n != "fp32"]  # the reference is always run
    unknown = [n for n in names if n not in QUANTIZERS]
    if unknown:
        raise IRError(f"--corpus runs the quantizers {', '.join(QUANTIZERS)}; {unknown[0]!r} is not one of them")
    if not names:
        raise IRError("--corpus needs at least one quantizer (irc, ort)")
    return [q for q in QUANTIZERS if q in names]


def default_corpus_workdir() -> Path:
    from .runner import default_workdir

    return default_workdir() / "corpus"


def run_corpus(corpus: Path | str, opts: CorpusOptions | None = None, *, names: list[str] | None = None,
               workdir: Path | str | None = None, progress: bool = False, command: str | None = None) -> dict:
    """Every model of `corpus` (or those in `names`) through every quantizer; see the module doc."""
    from .runner import environment

    opts = opts or CorpusOptions()
    opts.quantizers = check_quantizers(opts.quantizers)
    if opts.timeout <= 0:
        raise IRError("--timeout must be positive")
    folders = find_models(corpus, names)
    work = Path(workdir) if workdir else default_corpus_workdir()
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"schema": SCHEMA, "command": command, "environment": environment(), "corpus": str(corpus),
              "workdir": str(work), "quantizers": list(opts.quantizers), "options": opts.to_json(), "models": []}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(folders) * len(opts.quantizers), unit="job", file=sys.stderr, dynamic_ncols=True,
                   leave=False)
    t0 = time.perf_counter()
    try:
        for folder in folders:
            entry = _describe(folder)
            for q in opts.quantizers:
                if bar is not None:
                    bar.set_description(folder.name)
                    bar.set_postfix_str(q)
                entry[q] = run_job(folder, q, work / folder.name, opts)
                if bar is not None:
                    bar.update(1)
            result["models"].append(entry)
    finally:
        if bar is not None:
            bar.close()
    result["seconds"] = round(time.perf_counter() - t0, 1)
    if hasattr(os, "getloadavg"):
        result["environment"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["summary"] = {q: {"ok": sum(1 for m in result["models"] if m[q]["status"] == "ok"),
                             "models": len(result["models"])} for q in opts.quantizers}
    return result


# --------------------------------------------------------------------------------------------
# the table


def _status(entry: dict, markdown: bool) -> str:
    if entry.get("status") == "ok":
        text = "ok"
        if entry.get("info", {}).get("preprocessed") is False:
            text = "ok (without pre-processing)"
        return text
    stage = entry.get("stage") or ""
    prefix = {"load": "onnxruntime load: ", "run": "onnxruntime run: ", "fp32": "fp32 model: ",
              "kernels": "kernel check: "}.get(stage, "")
    text = prefix + (entry.get("error") or "error")
    if len(text) > 140:
        text = text[:137] + "..."
    return text.replace("|", "\\|") if markdown else text


def _cosine(entry: dict) -> str:
    if entry.get("status") != "ok":
        return "-"
    if entry.get("cosine") is not None:
        return f"{entry['cosine']:.4f}"
    notes = [o["note"] for o in entry.get("outputs", {}).values() if "note" in o]
    return notes[0] if notes else "-"


def _kernels(entry: dict) -> str:
    k = entry.get("kernels")
    if entry.get("status") != "ok" or not k:
        return "-"
    return f"{k['int8_compute']} ({k['float_compute']} float)"


def corpus_table(result: dict, markdown: bool = False) -> str:
    from .report import _table

    qs = result["quantizers"]
    headers = ["model", "exporter", "opset"]
    cells = sorted({c for m in result["models"] for q in qs for c in (m[q].get("speedup") or {})})
    for q in qs:
        headers += [q, f"{q} cos", f"{q} int8"] + [f"{q} {c}" for c in cells]
    rows = []
    for m in result["models"]:
        row = [m["name"], str(m.get("exporter") or "-"), str(m.get("opset") or "-")]
        for q in qs:
            e = m[q]
            sp = e.get("speedup") or {}
            row += [_status(e, markdown), _cosine(e), _kernels(e)]
            row += [f"{sp[c]:.2f}x" if c in sp else "-" for c in cells]
        rows.append(row)
    return _table(headers, rows, markdown)


def format_corpus_report(result: dict, markdown: bool = False) -> str:
    """The environment, the table and a count of the models each quantizer brought through."""
    from .report import environment_line

    counts = "; ".join(f"{q}: {s['ok']} of {s['models']} ok" for q, s in result.get("summary", {}).items())
    note = ("cos: cosine of each output to the fp32 model's on the held-out samples, mean over samples, min "
            "over outputs. int8: int8 compute kernels (QLinearConv, QLinearMatMul, MatMulIntegerToFloat, ...) "
            "in onnxruntime's optimized graph (ORT_ENABLE_ALL), and the float Conv/Gemm/MatMul left.")
    return f"{environment_line(result)}\n{counts}\n{note}\n\n{corpus_table(result, markdown)}\n"
