"""Opening a data source by path, choosing a seeded subset, and streaming it in batches."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from irc.ir.diagnostics import IRError

from .base import Batch, Dataset, InputSpec, read_class_list
from .imagefolder import ImageFolderDataset
from .npz import NpzDataset
from .preprocess import Preprocess
from .voc import VOCDataset, is_voc_root

FORMATS = ("npz", "imagefolder", "voc")


def detect_format(path: Path) -> str:
    if path.is_file():
        if path.suffix.lower() == ".npz":
            return "npz"
        raise IRError(f"{path}: a data file must be an .npz; image data is given as a folder")
    if path.is_dir():
        return "voc" if is_voc_root(path) else "imagefolder"
    raise IRError(f"data path {path} does not exist")


def open_dataset(path: str | Path, *, format: str | None = None, preprocess: Preprocess | None = None,
                 labels_file: str | Path | None = None, classes: Sequence[str] | None = None,
                 split: str = "test", labels: bool = True) -> Dataset:
    """Open `path` as an .npz file, an ImageNet-style folder or a VOC 2007 root.

    The format is guessed from the path unless given. Class names come from `classes`, a
    labels file (one name per line), or the source's default (sorted folder names; the 20 VOC
    classes). `split` names the VOC image list (ImageSets/Main/<split>.txt). With
    `labels=False` the data is read for its inputs only, as calibration reads it: VOC
    annotations are not read (so their class names are not checked) and an .npz's `labels`
    array is ignored.
    """
    path = Path(path)
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise IRError(f"unknown data format {fmt!r} (known: {', '.join(FORMATS)})")
    if not path.exists():
        raise IRError(f"data path {path} does not exist")
    if classes is None and labels_file is not None:
        classes = read_class_list(labels_file)
    cls = list(classes) if classes is not None else None
    if fmt == "npz":
        return NpzDataset(path, cls, labels=labels)
    if not path.is_dir():
        raise IRError(f"{path}: {fmt} data must be a folder")
    if fmt == "voc":
        return VOCDataset(path, preprocess, cls, split, annotations=labels)
    return ImageFolderDataset(path, preprocess, cls, str(labels_file) if labels_file else None)


def select_indices(n: int, limit: int | None = None, seed: int = 0) -> np.ndarray:
    """All n indices, or a sorted random subset of `limit` of them drawn with `seed`."""
    if limit is not None and limit < 1:
        raise IRError(f"--limit must be at least 1, got {limit}")
    if limit is None or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def iter_batches(dataset: Dataset, inputs: Sequence[InputSpec], *, batch_size: int = 32,
                 limit: int | None = None, seed: int = 0) -> Iterator[Batch]:
    """Stream the (subset of the) data set in batches; only one batch is in memory at a time."""
    if batch_size < 1:
        raise IRError(f"--batch-size must be at least 1, got {batch_size}")
    idx = select_indices(len(dataset), limit, seed)
    for start in range(0, len(idx), batch_size):
        yield dataset.load(idx[start:start + batch_size].tolist(), inputs)


def _specs(input_names, input_shapes, dtypes=None) -> list[InputSpec]:
    if isinstance(input_names, str):
        input_names = [input_names]
        input_shapes = [input_shapes]
    if isinstance(input_shapes, Mapping):
        input_shapes = [input_shapes[n] for n in input_names]
    if len(input_names) != len(input_shapes):
        raise IRError(f"{len(input_names)} input names but {len(input_shapes)} shapes")
    dtypes = dtypes or [np.float32] * len(input_names)
    return [InputSpec(n, tuple(None if (d is None or isinstance(d, str) or (isinstance(d, int) and d < 0)) else int(d)
                               for d in s), np.dtype(t))
            for n, s, t in zip(input_names, input_shapes, dtypes)]


def calibration_batches(source: str | Path | Dataset, input_names: str | Sequence[str], input_shapes,
                        *, batch_size: int = 32, limit: int | None = 300, seed: int = 0,
                        preprocess: Preprocess | None = None, labels_file: str | Path | None = None,
                        format: str | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Yield {input_name: batch array} from an .npz, an image folder or a VOC root.

    input_shapes: one shape per input name (dims may be None, a string or -1 when dynamic),
    or a dict name -> shape. By default a seeded random 300 samples are used, as the classic
    calibration tools do; limit=None takes everything.

        for feed in calibration_batches("calib/", "input", [None, 3, 224, 224]):
            session.run(None, feed)
    """
    specs = _specs(input_names, input_shapes)
    ds = source if isinstance(source, Dataset) else open_dataset(
        source, format=format, preprocess=preprocess, labels_file=labels_file, labels=False)
    for batch in iter_batches(ds, specs, batch_size=batch_size, limit=limit, seed=seed):
        yield batch.inputs
