"""ImageNet-style folders: root/<class name>/<image>.jpg|.jpeg|.png.

Class indices follow the sorted sub-folder names, or the line order of a labels file. Every
non-hidden file inside a class folder must be an image; a sub-folder whose name is not in the
labels file is an error, not a skip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from irc.ir.diagnostics import IRError

from .base import Batch, Dataset, InputSpec, image_input, read_image
from .preprocess import BoundPreprocess, Preprocess

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class ImageFolderDataset(Dataset):
    kind = "image folder"
    task = "classification"

    def __init__(self, root: str | Path, preprocess: Preprocess | None = None,
                 classes: list[str] | None = None, labels_source: str | None = None) -> None:
        self.path = Path(root)
        self.preprocess = preprocess or Preprocess()
        folders = sorted(p for p in self.path.iterdir() if p.is_dir() and not p.name.startswith("."))
        stray = sorted(p.name for p in self.path.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if stray:
            raise IRError(f"{self.path}: image file(s) {', '.join(stray[:3])} lie directly in the data folder; "
                          "an image folder holds one sub-folder per class")
        if not folders:
            raise IRError(f"{self.path}: the data folder is empty (expected one sub-folder per class)")
        if classes is None:
            classes = [p.name for p in folders]
        else:
            index = set(classes)
            for p in folders:
                if p.name not in index:
                    raise IRError(f"{p}: class {p.name!r} is not in the class list {labels_source or ''}".rstrip())
        self.classes = classes
        lookup = {c: i for i, c in enumerate(classes)}
        files: list[Path] = []
        labels: list[int] = []
        for folder in folders:
            for f in sorted(folder.iterdir()):
                if f.name.startswith("."):
                    continue
                if f.is_dir() or f.suffix.lower() not in IMAGE_SUFFIXES:
                    raise IRError(f"{f}: not an image file (class folders hold {', '.join(IMAGE_SUFFIXES)} files)")
                files.append(f)
                labels.append(lookup[folder.name])
        if not files:
            raise IRError(f"{self.path}: the data folder holds no images")
        self.files = files
        self.labels = np.asarray(labels, dtype=np.int64)
        self._bound: dict[tuple, BoundPreprocess] = {}

    def __len__(self) -> int:
        return len(self.files)

    def _bind(self, spec: InputSpec) -> BoundPreprocess:
        key = (spec.name, spec.shape)
        if key not in self._bound:
            self._bound[key] = self.preprocess.for_input(spec.shape, spec.name)
        return self._bound[key]

    def load(self, indices: Sequence[int], inputs: Sequence[InputSpec]) -> Batch:
        spec = image_input(inputs, str(self.path))
        pre = self._bind(spec)
        rows = [pre(read_image(self.files[i]), str(self.files[i])) for i in indices]
        x = np.stack(rows).astype(spec.dtype, copy=False)
        return Batch({spec.name: x}, self.labels[np.asarray(indices, dtype=np.int64)], None,
                     [str(self.files[i]) for i in indices])
