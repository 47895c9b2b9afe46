"""The detection post-processing settings, read from a TOML/JSON table or command-line options."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from irc.ir.diagnostics import IRError

ENCODINGS = ("deltas", "corners", "center")
ACTIVATIONS = ("none", "softmax", "sigmoid")


@dataclass
class DetectionConfig:
    """How to turn a detector's raw outputs into scored boxes. Keys are documented in
    specs/data-and-metrics.md ("SSD decoding")."""

    boxes_output: str | None = None
    scores_output: str | None = None
    box_encoding: str = "deltas"
    box_order: str = "xyxy"
    variances: tuple[float, float] = (0.1, 0.2)
    priors: Mapping[str, Any] | None = None
    priors_file: str | None = None
    normalized: bool = True
    score_activation: str = "none"
    background_class: int | None = 0
    conf_threshold: float = 0.01
    nms_iou: float = 0.45
    top_k: int = 400
    keep_top_k: int = 200
    _priors_cache: np.ndarray | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "detection config",
                     base_dir: Path | None = None) -> "DetectionConfig":
        known = {f.name for f in fields(cls) if not f.name.startswith("_")}
        unknown = sorted(set(data) - known)
        if unknown:
            raise IRError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        cfg = cls(**{k: v for k, v in data.items()})
        if cfg.priors_file is not None and base_dir is not None and not Path(cfg.priors_file).is_absolute():
            cfg.priors_file = str(base_dir / cfg.priors_file)
        cfg.validate(where)
        return cfg

    def validate(self, where: str = "detection config") -> None:
        if self.box_encoding not in ENCODINGS:
            raise IRError(f"{where}: box_encoding must be one of {', '.join(ENCODINGS)}, got {self.box_encoding!r}")
        if self.box_order not in ("xyxy", "yxyx"):
            raise IRError(f"{where}: box_order must be xyxy or yxyx, got {self.box_order!r}")
        if self.score_activation not in ACTIVATIONS:
            raise IRError(f"{where}: score_activation must be one of {', '.join(ACTIVATIONS)}, "
                          f"got {self.score_activation!r}")
        try:
            v = tuple(float(x) for x in self.variances)
        except (TypeError, ValueError):
            v = ()
        if len(v) != 2 or min(v) <= 0:
            raise IRError(f"{where}: variances must be two positive numbers, got {self.variances!r}")
        self.variances = v
        if self.background_class is not None and (not isinstance(self.background_class, int)
                                                  or self.background_class < -1):
            raise IRError(f"{where}: background_class must be a class index or -1 for none")
        if self.background_class == -1:
            self.background_class = None
        if not 0 < float(self.nms_iou) <= 1:
            raise IRError(f"{where}: nms_iou must be in (0, 1], got {self.nms_iou}")
        if int(self.top_k) < 1 or int(self.keep_top_k) < 1:
            raise IRError(f"{where}: top_k and keep_top_k must be positive")
        if self.box_encoding == "deltas" and self.priors is None and self.priors_file is None:
            raise IRError(f"{where}: box_encoding 'deltas' needs prior boxes: give a [priors] table "
                          "or priors_file (a .npy of [P, 4] cx, cy, w, h)")

    def prior_boxes(self) -> np.ndarray:
        """The [P, 4] priors (cx, cy, w, h), generated or read once."""
        if self._priors_cache is None:
            from .priors import ssd_priors

            if self.priors_file is not None:
                try:
                    p = np.load(self.priors_file, allow_pickle=False)
                except (OSError, ValueError) as e:
                    raise IRError(f"cannot read priors file {self.priors_file}: {e}") from None
                if p.ndim != 2 or p.shape[1] != 4:
                    raise IRError(f"priors file {self.priors_file}: expected shape [P, 4], got {list(p.shape)}")
                self._priors_cache = p.astype(np.float32)
            elif self.priors is None:
                raise IRError("no prior boxes: give a [priors] table or priors_file (a .npy of [P, 4] cx, cy, w, h)")
            else:
                try:
                    self._priors_cache = ssd_priors(**dict(self.priors))
                except TypeError as e:
                    raise IRError(f"[priors] table: {e}") from None
        return self._priors_cache
