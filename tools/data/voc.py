"""Pascal VOC 2007 layout: JPEGImages/<id>.jpg, Annotations/<id>.xml, ImageSets/Main/<split>.txt.

Each annotation must give, for every object, its `name` (a class in the class list) and a
`bndbox` with integer-valued xmin, ymin, xmax, ymax (1-based, inclusive pixels); `difficult`
defaults to 0. Annotations are read with the images of their batch, so a bad file stops the run
when its sample is reached, naming the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence
from xml.etree import ElementTree as ET

import numpy as np

from irc.ir.diagnostics import IRError

from .base import Batch, Dataset, GroundTruth, InputSpec, image_input, read_image
from .preprocess import BoundPreprocess, Preprocess

VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor"]


def is_voc_root(path: Path) -> bool:
    return (path / "Annotations").is_dir() and (path / "JPEGImages").is_dir()


def _field(parent: ET.Element, tag: str, where: str, what: str) -> str:
    el = parent.find(tag)
    if el is None or el.text is None or not el.text.strip():
        raise IRError(f"{where}: {what} has no <{tag}>")
    return el.text.strip()


def _number(text: str, tag: str, where: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise IRError(f"{where}: {what} <{tag}> is not a number: {text!r}") from None


def parse_annotation(path: Path, classes: list[str], lookup: dict[str, int]) -> GroundTruth:
    """Read one VOC annotation file, or raise IRError naming the file and the missing field."""
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise IRError(f"{path}: annotation file does not exist") from None
    except (ET.ParseError, OSError) as e:
        raise IRError(f"{path}: not a readable XML annotation: {e}") from None
    where = str(path)
    size = root.find("size")
    width = height = 0
    if size is not None:
        width = int(_number(_field(size, "width", where, "<size>"), "width", where, "<size>"))
        height = int(_number(_field(size, "height", where, "<size>"), "height", where, "<size>"))
    boxes, labels, difficult = [], [], []
    for k, obj in enumerate(root.findall("object"), start=1):
        what = f"object {k}"
        name = _field(obj, "name", where, what)
        if name not in lookup:
            raise IRError(f"{where}: {what} has class {name!r}, which is not in the class list "
                          f"({', '.join(classes[:10])}{', ...' if len(classes) > 10 else ''})")
        bb = obj.find("bndbox")
        if bb is None:
            raise IRError(f"{where}: {what} ({name}) has no <bndbox>")
        box = [_number(_field(bb, t, where, f"{what} <bndbox>"), t, where, f"{what} <bndbox>")
               for t in ("xmin", "ymin", "xmax", "ymax")]
        if box[2] < box[0] or box[3] < box[1]:
            raise IRError(f"{where}: {what} ({name}) has xmax < xmin or ymax < ymin: {box}")
        d = obj.find("difficult")
        flag: float = 0
        if d is not None and d.text is not None and d.text.strip():
            flag = _number(d.text.strip(), "difficult", where, what)
            if flag not in (0, 1):
                raise IRError(f"{where}: {what} <difficult> must be 0 or 1, got {d.text.strip()!r}")
        boxes.append(box)
        labels.append(lookup[name])
        difficult.append(bool(flag))
    return GroundTruth(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(labels, dtype=np.int64),
                       np.asarray(difficult, dtype=bool), width, height)


class VOCDataset(Dataset):
    classes: list[str]  # VOC's own names unless given
    kind = "VOC"
    task = "detection"

    def __init__(self, root: str | Path, preprocess: Preprocess | None = None,
                 classes: list[str] | None = None, split: str = "test", annotations: bool = True) -> None:
        self.path = Path(root)
        self.annotations = annotations
        """False: images only (calibration); annotations are neither read nor checked."""
        self.preprocess = preprocess or Preprocess()
        if self.preprocess.crop is not None or isinstance(self.preprocess.resize, int):
            raise IRError(f"{self.path}: detection data takes only an exact resize [height, width] "
                          "(no crop, no shorter-side resize), so that boxes map back to the image")
        self.classes = list(classes) if classes is not None else list(VOC_CLASSES)
        self._lookup = {c: i for i, c in enumerate(self.classes)}
        sets = self.path / "ImageSets" / "Main"
        split_file = sets / f"{split}.txt"
        if not split_file.is_file():
            have = sorted(p.stem for p in sets.glob("*.txt") if "_" not in p.stem) if sets.is_dir() else []
            raise IRError(f"{self.path}: no image list {split_file.relative_to(self.path)}"
                          + (f" (splits found: {', '.join(have)})" if have else ""))
        try:
            ids = [ln.split()[0] for ln in split_file.read_text(encoding="utf-8").splitlines() if ln.strip()]
        except (OSError, UnicodeDecodeError) as e:
            raise IRError(f"cannot read {split_file}: {e}") from None
        if not ids:
            raise IRError(f"{split_file}: the image list is empty")
        self.ids = ids
        self._bound: dict[tuple, BoundPreprocess] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def image_path(self, image_id: str) -> Path:
        base = self.path / "JPEGImages" / image_id
        for suffix in (".jpg", ".jpeg", ".png", ".JPG"):
            p = base.with_name(image_id + suffix)
            if p.is_file():
                return p
        raise IRError(f"{base}.jpg: image listed in the image set does not exist")

    def load(self, indices: Sequence[int], inputs: Sequence[InputSpec]) -> Batch:
        spec = image_input(inputs, str(self.path))
        key = (spec.name, spec.shape)
        if key not in self._bound:
            self._bound[key] = self.preprocess.for_input(spec.shape, spec.name)
        pre = self._bound[key]
        rows, objects, names = [], [], []
        for i in indices:
            image_id = self.ids[i]
            path = self.image_path(image_id)
            image = read_image(path)
            if self.annotations:
                gt = parse_annotation(self.path / "Annotations" / f"{image_id}.xml", self.classes, self._lookup)
                # the decoded image is the truth about its size; the XML <size> may be absent
                gt.width, gt.height = image.size
                objects.append(gt)
            rows.append(pre(image, str(path)))
            names.append(str(path))
        x = np.stack(rows).astype(spec.dtype, copy=False)
        return Batch({spec.name: x}, None, objects if self.annotations else None, names)
