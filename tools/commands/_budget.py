"""Command-line options of the accuracy budget, shared by `irc quantize` and `irc opt`.

    --val PATH --max-drop 0.01|1% [--metric NAME] [--val-limit N] [--val-preprocess FILE]
    [--val-labels-file FILE] [--detection FILE]
    [--objective fewest-ops|speed] [--sensitivity interpreter|onnxruntime|local]
    [--ranking-samples N] [--report report.html]

A budget that cannot be met still writes the best model found and ends with exit code 3.
"""

from __future__ import annotations

import sys

from irc.ir.diagnostics import IRError

BUDGET_NOT_MET = 3
"""Exit code: the output was written, but the accuracy budget was not met."""


def add_budget_arguments(p) -> None:
    g = p.add_argument_group("accuracy budget (mixed precision: ops go back to fp32 until the metric is in budget)")
    g.add_argument("--val", metavar="PATH", help="validation data: an .npz (with `labels` for top1), an "
                   "ImageNet-style folder or a VOC 2007 root; preprocessed like the calibration data")
    g.add_argument("--max-drop", metavar="D", help="the largest metric drop allowed: 0.01 (absolute, metric "
                   "units) or 1%% (relative to the fp32 metric)")
    g.add_argument("--metric", metavar="NAME", help="top1, top5, map, map_all, agreement, cosine, sqnr or "
                   "module:function (default: top1 with labels, map on VOC data, else agreement with fp32)")
    g.add_argument("--val-limit", type=int, metavar="N", help="use a seeded random subset of N validation samples")
    g.add_argument("--val-preprocess", metavar="FILE", help="image preprocessing of folder validation data "
                   "(TOML/JSON; default: the calibration data's)")
    g.add_argument("--val-labels-file", metavar="FILE", help="class names of the validation data, one per line, "
                   "in class-index order (default: sorted folder names; the 20 VOC classes)")
    g.add_argument("--detection", metavar="FILE", help="SSD decoding settings for --metric map (TOML/JSON)")
    g.add_argument("--objective", choices=["fewest-ops", "speed"], default="fewest-ops",
                   help="fewest-ops: fewest ops in fp32 (default); speed: keep the heaviest int8 kernels")
    g.add_argument("--sensitivity", choices=["auto", "interpreter", "onnxruntime", "local"], default="auto",
                   help="how the harm of each quantized tensor is measured: interpreter (cached activations, "
                        "only ops downstream recomputed), onnxruntime (one fake-quantized model per tensor), "
                        "local (no propagation); default auto: the faster of the first two")
    g.add_argument("--ranking-samples", type=int, default=64, metavar="N",
                   help="validation samples used to rank the ops (default 64)")
    g.add_argument("--report", metavar="FILE", help="write the report: FILE.html (with plots, plus "
                   "FILE.json beside it) or FILE.json; with a budget the budget's report, else (irc quantize) "
                   "the run's: SQNR, ranges and histograms per tensor, which ops onnxruntime runs as int8 "
                   "kernels and which float, and why")


def wants_budget(args) -> bool:
    from irc.quantize_options import BudgetOptions

    return BudgetOptions.wanted(args.val, args.max_drop)


def plan_budget_files(files, args) -> None:
    """The budget's files for the command's FilePlan: the data and settings it reads, the report."""
    files.read("the validation data (--val)", args.val)
    files.read("the preprocessing file (--val-preprocess)", args.val_preprocess)
    files.read("the labels file (--val-labels-file)", args.val_labels_file)
    files.read("the detection settings (--detection)", args.detection)
    if args.metric and ":" in args.metric:
        files.read_module("the metric module (--metric)", args.metric)
    if args.report:
        files.write_report("the report (--report)", args.report)


def check_budget_args(args, report_without_budget: bool = False) -> None:
    """Options that only make sense with a budget (`--report` too, unless the command writes a
    report of its own without one)."""
    if args.ranking_samples < 1:
        raise IRError(f"--ranking-samples must be at least 1, got {args.ranking_samples}")
    if not wants_budget(args):
        extra = [o for o, v in (("--metric", args.metric), ("--val-limit", args.val_limit),
                                ("--val-preprocess", args.val_preprocess),
                                ("--val-labels-file", args.val_labels_file),
                                ("--detection", args.detection),
                                ("--report", None if report_without_budget else args.report)) if v is not None]
        if extra:
            raise IRError(f"{', '.join(extra)} belong to the accuracy budget: give --val PATH and --max-drop D")


def budget_options(args):
    """The budget's settings as given on the command line (None: no budget asked for)."""
    import dataclasses

    from irc.quantize_options import BudgetOptions

    if not wants_budget(args):
        return None
    return BudgetOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(BudgetOptions)})


def finish_budget(args, result, command: str, quiet: bool) -> int:
    """Write the report, print the summary table; the exit code (0, or 3 when not met)."""
    from irc.budget_report import summary_table, write_report

    if result is None:
        return 0
    if args.report:
        for path in write_report(result, args.report, title=getattr(args, "model", "") or getattr(args, "input", "")):
            if not quiet:
                print(f"wrote {path}", file=sys.stderr)
    if not quiet:
        print(summary_table(result), file=sys.stderr)
    if not result.met:
        print(f"irc {command}: the accuracy budget was not met (best drop {result.drop:.4g} > "
              f"{result.allowed_drop:.4g}); the best model found was written", file=sys.stderr)
        return BUDGET_NOT_MET
    return 0
