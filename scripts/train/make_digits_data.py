"""Write the example data sets from scikit-learn's bundled digits.

    python scripts/train/make_digits_data.py

Writes (replacing earlier runs):
  examples/data/digits-cls/{train,val,calib}/<digit>/<n>.png   ImageNet-style folders, 32x32 grey
  examples/data/digits-voc/                                     Pascal VOC 2007 layout, 96x96 RGB
      JPEGImages/*.jpg, Annotations/*.xml, ImageSets/Main/test.txt, labels.txt
The same seed always gives the same files.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digits_common import (CLASSES, CLS_ROOT, N_CALIB, N_VOC_TEST, SEED, VOC_ROOT,
                           classification_image, compose_detection_image, load_digits_split)


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def write_classification() -> dict[str, int]:
    tr_x, tr_y, va_x, va_y = load_digits_split()
    rng = np.random.default_rng(SEED + 1)
    calib = np.sort(rng.choice(len(tr_y), N_CALIB, replace=False))
    splits = {"train": (tr_x, tr_y), "val": (va_x, va_y), "calib": (tr_x[calib], tr_y[calib])}
    counts = {}
    for split, (xs, ys) in splits.items():
        root = _fresh(CLS_ROOT / split)
        for c in CLASSES:
            (root / c).mkdir()
        for i, (scan, label) in enumerate(zip(xs, ys)):
            classification_image(scan, rng).save(root / str(label) / f"{i:04d}.png", optimize=True)
        counts[split] = len(ys)
    return counts


def _voc_xml(name: str, size: int, objects) -> bytes:
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "digits-voc"
    ET.SubElement(root, "filename").text = f"{name}.jpg"
    sz = ET.SubElement(root, "size")
    for tag, v in (("width", size), ("height", size), ("depth", 3)):
        ET.SubElement(sz, tag).text = str(v)
    ET.SubElement(root, "segmented").text = "0"
    for label, x0, y0, x1, y1, difficult in objects:
        o = ET.SubElement(root, "object")
        ET.SubElement(o, "name").text = CLASSES[label]
        ET.SubElement(o, "pose").text = "Unspecified"
        ET.SubElement(o, "truncated").text = "0"
        ET.SubElement(o, "difficult").text = str(difficult)
        bb = ET.SubElement(o, "bndbox")
        # VOC pixel coordinates are 1-based and inclusive
        for tag, v in (("xmin", x0 + 1), ("ymin", y0 + 1), ("xmax", x1 + 1), ("ymax", y1 + 1)):
            ET.SubElement(bb, tag).text = str(v)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8") + b"\n"


def write_voc() -> int:
    _, _, va_x, va_y = load_digits_split()
    rng = np.random.default_rng(SEED + 2)
    _fresh(VOC_ROOT)
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (VOC_ROOT / sub).mkdir(parents=True)
    names = []
    for i in range(N_VOC_TEST):
        name = f"{i:06d}"
        image, objects = compose_detection_image(va_x, va_y, rng)
        image.save(VOC_ROOT / "JPEGImages" / f"{name}.jpg", quality=90)
        (VOC_ROOT / "Annotations" / f"{name}.xml").write_bytes(_voc_xml(name, image.width, objects))
        names.append(name)
    (VOC_ROOT / "ImageSets" / "Main" / "test.txt").write_text("\n".join(names) + "\n")
    (VOC_ROOT / "labels.txt").write_text("\n".join(CLASSES) + "\n")
    return len(names)


def main() -> None:
    counts = write_classification()
    n_voc = write_voc()
    print(f"digits-cls: {counts}; digits-voc: {n_voc} test images")


if __name__ == "__main__":
    main()
