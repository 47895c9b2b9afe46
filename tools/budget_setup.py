"""Building an accuracy budget (irc.passes.budget.AccuracyBudget) from user-level settings.

    ctx.budget = make_budget(graph, BudgetOptions("val/", "1%", metric="top1"), preprocess="cls.toml")

Shared by irc.quantize() and the `irc quantize` / `irc opt` commands.
"""

from __future__ import annotations

from irc.ir.diagnostics import IRError
from irc.ir.graph import Graph
from irc.quantize_options import BudgetOptions


def make_budget(graph: Graph, options: BudgetOptions, preprocess: str | None = None):
    """An AccuracyBudget for `graph`: `options.val` is a data path (or a ready Validation object)
    and `options.max_drop` a number (absolute) or 'N%' (relative). Folder validation data is
    preprocessed by `options.val_preprocess`, else by `preprocess` (the calibration data's)."""
    from irc.passes.budget import AccuracyBudget, parse_max_drop

    val = options.val
    if options.max_drop is None:
        raise IRError("a validation set needs --max-drop: the accuracy drop allowed (0.01, or 1% of fp32)")
    if val is None:
        raise IRError("--max-drop needs a validation set: give --val PATH (an .npz, an image folder or a VOC root)")
    drop, relative = parse_max_drop(options.max_drop)
    if isinstance(val, (str, bytes)) or hasattr(val, "__fspath__"):
        from irc.validation import DatasetValidation

        val = DatasetValidation.open(str(val), graph, metric=options.metric,
                                     preprocess=options.val_preprocess or preprocess, detection=options.detection,
                                     labels_file=options.val_labels_file, limit=options.val_limit)
    elif options.metric is not None:
        raise IRError("give the metric to the Validation object, not as metric=, when val is not a path")
    return AccuracyBudget(val, drop, relative, objective=options.objective, engine=options.sensitivity,
                          ranking_samples=options.ranking_samples)
