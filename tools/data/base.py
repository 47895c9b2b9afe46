"""What every data source provides: a length, a class list, and batches of model inputs with targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from irc.ir.diagnostics import IRError


@dataclass(frozen=True)
class InputSpec:
    """One model input: its name, shape (None for a dynamic dim) and numpy dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float32))


@dataclass
class GroundTruth:
    """One image's annotated objects, in VOC pixel coordinates (1-based, inclusive).

    boxes [n,4] (xmin, ymin, xmax, ymax), labels [n] class indices, difficult [n] bools,
    width/height of the image as stored on disk.
    """

    boxes: np.ndarray
    labels: np.ndarray
    difficult: np.ndarray
    width: int
    height: int


@dataclass
class Batch:
    """A batch: model inputs by name plus what the metrics compare against.

    labels: int64 [n] class indices (classification), or None when the data has no labels.
    objects: one GroundTruth per sample (detection data), else None.
    ids: a name per sample (file path, or "file.npz[i]") for messages and reports.
    """

    inputs: dict[str, np.ndarray]
    labels: np.ndarray | None
    objects: list[GroundTruth] | None
    ids: list[str]

    def __len__(self) -> int:
        return len(self.ids)


class Dataset:
    """Base class of the three data sources. `task` is "classification", "detection" or None."""

    kind = "?"
    task: str | None = None
    path: Path
    classes: list[str] | None = None

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self, indices: Sequence[int], inputs: Sequence[InputSpec]) -> Batch:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.kind} {self.path} ({len(self)} samples)"


def read_image(path: Path) -> Image.Image:
    """Decode an image file fully, or raise IRError naming it."""
    try:
        with Image.open(path) as im:
            im.load()
            return im.copy() if im.mode in ("L", "RGB") else im.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as e:
        raise IRError(f"{path}: cannot read image: {e}") from None


def read_class_list(path: str | Path) -> list[str]:
    """A labels file: one class name per line, in class-index order; blank lines and lines
    starting with '#' are skipped. Duplicates are an error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise IRError(f"cannot read labels file {path}: {getattr(e, 'strerror', None) or e}") from None
    names = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not names:
        raise IRError(f"labels file {path} lists no classes")
    seen = set()
    for n in names:
        if n in seen:
            raise IRError(f"labels file {path}: class {n!r} is listed twice")
        seen.add(n)
    return names


def image_input(inputs: Sequence[InputSpec], source: str) -> InputSpec:
    """The single image input of a model fed from an image folder."""
    if len(inputs) != 1:
        raise IRError(f"{source}: image data feeds exactly one model input, but the model has "
                      f"{len(inputs)} ({', '.join(i.name for i in inputs)}); use an .npz file instead")
    return inputs[0]
