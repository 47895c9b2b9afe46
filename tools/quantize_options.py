"""The settings of one quantization run, in one place.

    options = QuantizeOptions(method="percentile", samples=256)
    result = irc.quantize("model.onnx", "calib/", options)
    result = irc.quantize("model.onnx", "calib/", method="percentile", samples=256)   # the same

`irc quantize` builds a QuantizeOptions from its arguments, irc.quantize() from its keywords
(`QuantizeOptions.from_keywords`, where the budget's settings are given flat: val=, max_drop=,
...), and the default pipeline is built from it as pass objects (`QuantizeOptions.passes`). The
accuracy budget's settings are a BudgetOptions of their own, which `irc opt` uses as well.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Mapping

from irc.ir.diagnostics import IRError

if TYPE_CHECKING:
    from irc.passes import Pass
    from irc.passes.quantize import Quantize


@dataclass(frozen=True)
class BudgetOptions:
    """The accuracy budget (specs/accuracy-budget.md): ops go back to fp32 until the metric drops
    by at most `max_drop`."""

    val: Any = None
    """Validation data: a path (an .npz, an image folder or a VOC root) or an
    irc.passes.budget.Validation."""
    max_drop: str | float | None = None
    """The largest drop allowed: 0.01 (absolute, in metric units) or "1%" (relative to fp32)."""
    metric: str | None = None
    """top1, top5, map, ... (default: top1 with labels, map on VOC data, else agreement with fp32)."""
    val_limit: int | None = None
    """A seeded random subset of this many validation samples."""
    val_preprocess: str | None = None
    """Image preprocessing of folder validation data (default: the calibration data's)."""
    val_labels_file: str | None = None
    """Class names of the validation data, one per line."""
    detection: str | None = None
    """SSD decoding settings for the map metric (TOML/JSON)."""
    objective: Literal["fewest-ops", "speed"] = "fewest-ops"
    sensitivity: Literal["auto", "interpreter", "onnxruntime", "local"] = "auto"
    """How the harm of each quantized tensor is measured."""
    ranking_samples: int = 64
    """Validation samples used to rank the ops."""

    @staticmethod
    def wanted(val: Any, max_drop: Any) -> bool:
        """Whether settings ask for a budget: a validation set or a drop (each needs the other)."""
        return val is not None or max_drop is not None


@dataclass(frozen=True)
class QuantizeOptions:
    """How irc.quantize() (and `irc quantize`) quantizes a model."""

    mode: Literal["static", "dynamic"] = "static"
    """static: calibrated activation ranges; dynamic: matmul / gemm weights int8, activations
    quantized at run time (quantize{mode=dynamic}; calibration data then optional: when given it
    feeds the smooth pass and the output check)."""
    method: Literal["minmax", "percentile", "entropy", "mse", "auto"] = "minmax"
    """How calibration turns observed values into ranges."""
    activations: Literal["u8", "i8", "i8-sym"] = "u8"
    """Activation storage type."""
    per_channel: bool = True
    """One weight scale per output channel (False: per tensor)."""
    samples: int = 0
    """Calibrate on a seeded random subset of this many samples (0: all)."""
    batch_size: int = 32
    """Calibration batch size."""
    skip: tuple[str, ...] = ()
    """Op names to keep in float."""
    equalize: bool = False
    """Run the equalize pass before calibrate (passes/equalize.py)."""
    bias_correct: bool = False
    """Run the bias-correct pass between calibrate and quantize (passes/bias_correct.py)."""
    speed_check: bool | None = False
    """Time each int8 region against fp32 in onnxruntime (batch of one calibration sample) and
    return to fp32 the regions int8 does not make faster (irc/speed_check.py). None: do so when
    the pipeline has a quantize pass (what `irc quantize` does unless --no-speed-check); True
    without one is an error. Off by default here, so that a library call is deterministic."""
    reduce_range: bool | None = None
    """7-bit weights (the quantize pass's reduce-range); None: the pass's default, on exactly on
    x86 CPUs without VNNI (specs/quantization.md §3)."""
    speed_threads: int = 1
    """onnxruntime intra-op threads of the speed check (0: onnxruntime's default)."""
    keep_calibrated: bool = False
    """Keep the graph as quantize received it in result.calibrated (irc.run_report)."""
    pipeline: str | None = None
    """A pipeline text (specs/pipeline.md) to run instead of the default passes."""
    preprocess: str | None = None
    """Image preprocessing of folder calibration data (TOML/JSON)."""
    input_shapes: Mapping[str | None, Any] | None = None
    """{input name: dims} fixed before import ("1x3x640x640" strings or tuples; the name None for
    a one-input model), so that the model's shape code folds."""
    check: bool = True
    """Load the written model in onnxruntime and compare it with the fp32 model on the first
    calibration batch (result.check)."""
    quiet: bool = True
    """No progress bars."""
    budget: BudgetOptions | None = None
    """The accuracy budget, if any."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "skip", tuple(self.skip))
        for name, value in (("samples", self.samples), ("batch_size", self.batch_size),
                            ("speed_threads", self.speed_threads)):
            check_count(name, value)
        hints = typing.get_type_hints(QuantizeOptions)
        for f in dataclasses.fields(self):
            if typing.get_origin(hints[f.name]) is Literal:
                _check_choice(f.name, getattr(self, f.name), typing.get_args(hints[f.name]))

    @classmethod
    def from_keywords(cls, **settings: Any) -> QuantizeOptions:
        """The options of irc.quantize()'s keywords: the fields of QuantizeOptions, and those of
        BudgetOptions in place of `budget` (a budget when `val` or `max_drop` is given)."""
        own = {f.name for f in dataclasses.fields(cls)} - {"budget"}
        of_budget = {f.name for f in dataclasses.fields(BudgetOptions)}
        unknown = sorted(set(settings) - own - of_budget)
        if unknown:
            raise TypeError(f"quantize() got unknown setting{'s' * (len(unknown) > 1)} {', '.join(unknown)}; "
                            f"its settings: {', '.join(sorted(own | of_budget))}")
        budget = {k: settings.pop(k) for k in list(settings) if k in of_budget}
        wanted = BudgetOptions.wanted(budget.get("val"), budget.get("max_drop"))
        return cls(**settings, budget=BudgetOptions(**budget) if wanted else None)

    def passes(self, calibrated: bool) -> list[Pass]:
        """The pipeline to run: `pipeline` parsed, or the default passes for these options
        (`calibrated`: calibration data was given, which dynamic mode uses for smooth)."""
        from irc.passes import parse_pipeline

        if self.pipeline is not None:
            return parse_pipeline(self.pipeline).instantiate()
        from irc.passes.bias_correct import BiasCorrect
        from irc.passes.calibrate import Calibrate
        from irc.passes.dce import DeadCodeElimination
        from irc.passes.equalize import Equalize
        from irc.passes.fold import Fold
        from irc.passes.fuse import Fuse
        from irc.passes.quantize import Quantize
        from irc.passes.smooth import Smooth

        # smooth rewrites only layer_norms that feed matmuls (transformers), where it measured better
        smooth_batch = min(self.batch_size, 16)
        passes: list[Pass] = [Fold(), Fuse(), DeadCodeElimination()]
        if self.mode == "dynamic":
            # with calibration data, smooth the layer_norms' outliers first (as in static mode)
            if calibrated:
                passes.append(Smooth(batch_size=smooth_batch))
            passes.append(self._weights(Quantize(mode="dynamic", per_channel=self.per_channel, skip=self.skip)))
            return passes
        if self.equalize:
            passes.append(Equalize())
        # smooth measures on at most 64 samples (its default); calibrate and bias-correct take
        # samples=0 as all of them
        passes.append(Smooth(batch_size=smooth_batch, samples=min(self.samples, 64) if self.samples else 64))
        passes.append(Calibrate(method=self.method, activations=self.activations, batch_size=self.batch_size,
                                samples=self.samples))
        if self.bias_correct:
            passes.append(BiasCorrect(activations=self.activations, per_channel=self.per_channel,
                                      batch_size=self.batch_size, samples=self.samples))
        passes.append(self._weights(Quantize(activations=self.activations, per_channel=self.per_channel,
                                             skip=self.skip)))
        return passes

    def _weights(self, quantize: Quantize) -> Quantize:
        """The quantize pass with `reduce_range` when it is set (else the pass's host default)."""
        if self.reduce_range is None:
            return quantize
        return dataclasses.replace(quantize, reduce_range=self.reduce_range)


_COUNTS = {
    "samples": (0, "0 (all samples) or a positive count"),
    "batch_size": (1, "at least 1"),
    "speed_threads": (0, "0 (onnxruntime's default) or more"),
}


def check_count(name: str, value: int, spelled: str | None = None) -> None:
    """IRError unless the count `name` (samples, batch_size, speed_threads) is in its range; the
    message names it as `spelled` (a command's flag), else by its field name."""
    low, rule = _COUNTS[name]
    if value < low:
        raise IRError(f"{spelled or name} must be {rule}, got {value}")


def _check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> None:
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices[:-1]) + f" or {choices[-1]!r}"
        raise IRError(f"{name} must be {listed}, got {value!r}")
