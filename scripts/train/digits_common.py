"""Shared helpers of the example-model training scripts (not part of the installed package).

The data are scikit-learn's bundled handwritten digits: 1797 real 8x8 scans with 16 grey
levels, shipped inside the scikit-learn wheel, so nothing is downloaded. These helpers split them
reproducibly, turn one 8x8 scan into a larger glyph image, and compose several glyphs onto a
canvas for the detection set. Every random choice takes an explicit numpy Generator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CLS_ROOT = EXAMPLES / "data" / "digits-cls"
VOC_ROOT = EXAMPLES / "data" / "digits-voc"
MODELS = EXAMPLES / "models"
CLASSES = [str(d) for d in range(10)]

SEED = 20240611
CLS_SIZE = 32          # classifier input: 1x32x32 grey
DET_SIZE = 96          # detector input: 3x96x96 RGB
N_VAL = 450            # classification validation images (a quarter of the set)
N_CALIB = 300          # calibration images, drawn from the training part
N_VOC_TEST = 300       # composed detection test images


def load_digits_split():
    """Return (train_images, train_labels, val_images, val_labels) as uint8 8x8 scans (0..255).

    The split is stratified-free but fixed: a seeded permutation of all 1797 samples, the
    first N_VAL are validation, the rest training.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.clip(d.images * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
    labels = d.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(labels))
    val, train = order[:N_VAL], order[N_VAL:]
    return images[train], labels[train], images[val], labels[val]


def glyph(scan: np.ndarray, size: int) -> Image.Image:
    """Upscale one 8x8 scan to a size x size grey image (bicubic, as a scanner would blur)."""
    return Image.fromarray(scan, mode="L").resize((size, size), Image.BICUBIC)


def classification_image(scan: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A 32x32 grey image: the glyph at 24..28 px, shifted a little, on a black field."""
    g = int(rng.integers(24, 29))
    canvas = Image.new("L", (CLS_SIZE, CLS_SIZE), 0)
    x = int(rng.integers(0, CLS_SIZE - g + 1))
    y = int(rng.integers(0, CLS_SIZE - g + 1))
    canvas.paste(glyph(scan, g), (x, y))
    return canvas


def _tight_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def compose_detection_image(scans: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                            size: int = DET_SIZE):
    """Compose 1..4 digits onto a size x size RGB canvas.

    Returns (image, objects) where objects are (label, xmin, ymin, xmax, ymax, difficult) in
    0-based inclusive pixel coordinates of the tight box of the glyph's ink. Glyphs do not
    overlap; digits drawn smaller than 16 px are flagged difficult, as VOC flags objects that
    are hard to recognise.
    """
    bg = rng.integers(0, 60, size=3)
    noise = rng.normal(0, 6, size=(size, size, 3))
    canvas = np.clip(bg[None, None, :] + noise, 0, 255)
    placed: list[tuple[int, int, int, int]] = []
    objects = []
    for _ in range(int(rng.integers(1, 5))):
        for _attempt in range(20):
            g = int(rng.integers(12, 45))
            x = int(rng.integers(0, size - g + 1))
            y = int(rng.integers(0, size - g + 1))
            if all(x + g <= px or px + pg <= x or y + g <= py or py + pg <= y
                   for px, py, pg, _ in placed):
                break
        else:
            continue
        k = int(rng.integers(0, len(labels)))
        ink = np.asarray(glyph(scans[k], g), dtype=np.float64) / 255.0
        box = _tight_box(ink > 0.25)
        if box is None:
            continue
        color = rng.integers(150, 256, size=3).astype(np.float64)
        region = canvas[y:y + g, x:x + g]
        canvas[y:y + g, x:x + g] = region * (1 - ink[..., None]) + color * ink[..., None]
        placed.append((x, y, g, 0))
        bx0, by0, bx1, by1 = box
        objects.append((int(labels[k]), x + bx0, y + by0, x + bx1, y + by1, int(g < 16)))
    return Image.fromarray(canvas.round().astype(np.uint8), mode="RGB"), objects
