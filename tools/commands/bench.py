"""`irc bench`: time fp32 against irc's int8 and other quantizers' int8, per model; tables and JSON."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from irc.ir.diagnostics import IRError

NAME = "bench"
HELP = ("benchmark fp32 vs irc int8 vs onnxruntime's quantize_static (and NNCF / OpenVINO when installed): "
        "latency, speedup, kernels, memory, file size")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="zoo names (default: all eleven) or .onnx files; see irc.zoo.ZOO_MODELS")
    p.add_argument("--variants", metavar="LIST",
                   help="comma-separated, from fp32, irc, ort, nncf, ov-fp32, ov-int8 (default: fp32,irc,ort "
                        "plus nncf and ov-fp32,ov-int8 when those packages are installed); fp32 is always run")
    p.add_argument("--batch", default="1,8", metavar="LIST", help="batch sizes (default 1,8)")
    p.add_argument("--threads", default="1,2", metavar="LIST", help="intra-op thread counts (default 1,2)")
    p.add_argument("--rounds", type=int, default=100, metavar="N", help="at most N timing rounds per cell (default 100)")
    p.add_argument("--min-rounds", type=int, default=5, metavar="N",
                   help="at least N rounds per cell, even past the budget (default 5)")
    p.add_argument("--budget-seconds", type=float, default=8.0, metavar="S",
                   help="stop a cell's rounds after S seconds once --min-rounds are done (default 8)")
    p.add_argument("--warmup", type=int, default=2, metavar="N", help="untimed runs of each variant first (default 2)")
    p.add_argument("--calib-samples", type=int, default=32, metavar="N",
                   help="random-normal calibration samples, the same for every quantizer (default 32)")
    p.add_argument("--seed", type=int, default=0, help="seed of zoo weights and of the random data (default 0)")
    p.add_argument("--irc-option", action="append", default=[], metavar="KEY=VALUE",
                   help="an option for irc.quantize (VALUE read as JSON when it parses, else as text); repeatable")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--workdir", metavar="DIR", help="where model files go (default: ~/.cache/irc/bench)")
    p.add_argument("--json", metavar="FILE", help="write the full result as JSON ('-' for stdout)")
    p.add_argument("--markdown", metavar="FILE", help="write the tables as Markdown")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--corpus", metavar="DIR",
                   help="instead of timing: quantize every model of a corpus folder (NAME/model.onnx, calib.npz, "
                        "heldout.npz, meta.json; MODEL arguments pick names) with irc and onnxruntime's "
                        "quantize_static, each in a child process, and tabulate status, cosine to fp32 on the "
                        "held-out samples and int8 kernels; --variants picks from irc,ort,ort-dynamic")
    p.add_argument("--speed", action="store_true",
                   help="with --corpus: also time each int8 file against fp32 (--threads, --batch, "
                        "--budget-seconds), in its job's process, alternating rounds")
    p.add_argument("--timeout", type=float, default=900.0, metavar="S",
                   help="with --corpus: seconds per model and quantizer before its process is killed (default 900)")


def _ints(text: str, opt: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise IRError(f"{opt} expects comma-separated integers, got {text!r}") from None
    if not vals or any(v < 1 for v in vals):
        raise IRError(f"{opt} expects positive integers, got {text!r}")
    return vals


def _irc_options(items: list[str]) -> dict:
    """irc.quantize's settings for the `irc` variant: `irc quantize`'s defaults (the speed check
    included), then each KEY=VALUE."""
    out: dict = {"speed_check": None}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise IRError(f"--irc-option expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _write(path: str, text: str) -> None:
    from irc.ir.weights_io import atomic_write_bytes

    atomic_write_bytes(path, text.encode())


def _plan_files(args, models: list[str]) -> None:
    """Model files are read; --json, --markdown and each model's folder under the work folder are written."""
    from irc.bench import default_workdir

    from ._paths import FilePlan

    files = FilePlan()
    workdir = Path(args.workdir) if args.workdir else default_workdir()
    for m in models:
        is_file = Path(m).suffix == ".onnx" or Path(m).exists()
        if is_file:
            files.read_model(f"the model {m}", m)
        files.write_folder(f"the work folder of {m}", workdir / (Path(m).stem if is_file else m))
    for opt, out in (("--json", args.json), ("--markdown", args.markdown)):
        if out and out != "-":
            files.write(f"the {opt} output", out)
    files.check()


def _command(args, opts) -> str:
    """The command line that repeats this run (options spelled out), for the report."""
    parts = ["irc", "bench", *args.models, "--variants", ",".join(opts.variants),
             "--batch", ",".join(map(str, opts.batches)), "--threads", ",".join(map(str, opts.threads)),
             "--rounds", str(opts.rounds), "--min-rounds", str(opts.min_rounds),
             "--budget-seconds", f"{opts.budget_seconds:g}", "--calib-samples", str(opts.calib_samples)]
    if opts.seed:
        parts += ["--seed", str(opts.seed)]
    for item in args.irc_option:
        parts += ["--irc-option", item]
    if not opts.memory:
        parts.append("--no-memory")
    return " ".join(shlex.quote(p) for p in parts)


def _corpus_command(args) -> str:
    parts = ["irc", "bench", "--corpus", args.corpus, *args.models]
    if args.variants:
        parts += ["--variants", args.variants]
    parts += ["--timeout", f"{args.timeout:g}"]
    if args.speed:
        parts += ["--speed", "--threads", args.threads, "--batch", args.batch,
                  "--budget-seconds", f"{args.budget_seconds:g}"]
    for item in args.irc_option:
        parts += ["--irc-option", item]
    return " ".join(shlex.quote(p) for p in parts)


def _run_corpus(args) -> int:
    from irc.bench.corpus import CorpusOptions, format_corpus_report, run_corpus

    from ._paths import FilePlan

    quantizers = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else ["irc", "ort"]
    opts = CorpusOptions(quantizers=quantizers, timeout=args.timeout, quantize_options=_irc_options(args.irc_option))
    if args.speed:
        opts.speed = {"threads": _ints(args.threads, "--threads"), "batches": _ints(args.batch, "--batch"),
                      "seconds": args.budget_seconds}
    files = FilePlan()
    files.read("the corpus", args.corpus)
    if args.workdir:
        files.write_folder("the work folder (--workdir)", args.workdir)
    for opt, out in (("--json", args.json), ("--markdown", args.markdown)):
        if out and out != "-":
            files.write(f"the {opt} output", out)
    files.check()
    result = run_corpus(args.corpus, opts, names=args.models or None, workdir=args.workdir,
                        progress=not args.quiet and sys.stderr.isatty(), command=_corpus_command(args))
    if args.json == "-":
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_corpus_report(result))
        if args.json:
            _write(args.json, json.dumps(result, indent=1) + "\n")
    if args.markdown:
        _write(args.markdown, format_corpus_report(result, markdown=True))
    return 0


def run(args) -> int:
    if args.corpus:
        return _run_corpus(args)
    from irc.bench import BenchOptions, default_variants, format_report, run_bench
    from irc.zoo import ZOO_MODELS

    variants = ([v.strip() for v in args.variants.split(",") if v.strip()] if args.variants
                else default_variants())
    if args.min_rounds < 1 or args.warmup < 0:
        raise IRError("--min-rounds must be at least 1 and --warmup not negative")
    opts = BenchOptions(variants=variants, batches=_ints(args.batch, "--batch"),
                        threads=_ints(args.threads, "--threads"), rounds=args.rounds, min_rounds=args.min_rounds,
                        budget_seconds=args.budget_seconds, warmup=args.warmup, calib_samples=args.calib_samples,
                        seed=args.seed, memory=not args.no_memory, quantize_options=_irc_options(args.irc_option))
    _plan_files(args, args.models or list(ZOO_MODELS))  # fail before the long run, not after it
    progress = not args.quiet and sys.stderr.isatty()
    command = _command(args, opts)
    result = run_bench(args.models or list(ZOO_MODELS), opts, workdir=args.workdir, progress=progress,
                       command=command)
    text = format_report(result)
    if args.json == "-":
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text)
        if args.json:
            _write(args.json, json.dumps(result, indent=1) + "\n")
    if args.markdown:
        _write(args.markdown, format_report(result, markdown=True))
    return 0
