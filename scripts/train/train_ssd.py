"""Train the example SSD-style digit detector and export it to ONNX.

    python scripts/train/make_digits_data.py      # once, writes the VOC-layout test set
    python scripts/train/train_ssd.py

Training images are composed on the fly from the training part of the digits (the shipped
VOC test set uses only validation digits, so no glyph is seen in both). The loss is SSD's
MultiBox loss: priors matched to ground truth at IoU >= 0.5 (and every object to its best
prior), smooth-L1 on encoded box offsets, cross-entropy with 3:1 hard-negative mining.
Writes examples/models/digits_ssd.onnx (outputs `boxes`: raw deltas [N, P, 4], `scores`:
softmax [N, P, 11], class 0 = background) and examples/models/digits_ssd.toml, the
preprocessing and decoding settings `irc eval` reads.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digits_common import DET_SIZE, MODELS, SEED, compose_detection_image, load_digits_split
from export_util import export_onnx
from models import SSD_PRIORS, SSDLite

from irc.detection import ssd_priors
from irc.detection.nms import iou_matrix

VARIANCES = (0.1, 0.2)
MEAN, STD = 0.5, 0.5


def corners(p: np.ndarray) -> np.ndarray:
    return np.concatenate([p[:, :2] - p[:, 2:] / 2, p[:, :2] + p[:, 2:] / 2], 1)


def match(gt: np.ndarray, labels: np.ndarray, priors: np.ndarray, threshold=0.5):
    """Targets for one image: encoded offsets [P,4] and class ids [P] (0 = background)."""
    loc = np.zeros((len(priors), 4), np.float32)
    cls = np.zeros(len(priors), np.int64)
    if len(gt) == 0:
        return loc, cls
    iou = iou_matrix(gt, corners(priors))                 # [G, P]
    best_gt = iou.argmax(0)
    best_iou = iou.max(0)
    best_gt[iou.argmax(1)] = np.arange(len(gt))             # every object keeps its best prior
    best_iou[iou.argmax(1)] = 1.0
    g = gt[best_gt]
    gc = (g[:, :2] + g[:, 2:]) / 2
    gs = g[:, 2:] - g[:, :2]
    loc[:, :2] = (gc - priors[:, :2]) / (VARIANCES[0] * priors[:, 2:])
    loc[:, 2:] = np.log(gs / priors[:, 2:]) / VARIANCES[1]
    cls[:] = np.where(best_iou >= threshold, labels[best_gt] + 1, 0)
    return loc, cls


def make_set(n: int, priors: np.ndarray, seed: int):
    tr_x, tr_y, _, _ = load_digits_split()
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 3, DET_SIZE, DET_SIZE), np.float32)
    locs = np.zeros((n, len(priors), 4), np.float32)
    clss = np.zeros((n, len(priors)), np.int64)
    for i in range(n):
        img, objs = compose_detection_image(tr_x, tr_y, rng)
        images[i] = ((np.asarray(img, np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)
        o = np.asarray(objs, np.float64).reshape(-1, 6)
        # 0-based inclusive pixels -> fractions: a pixel column x spans [x, x+1)
        gt = np.stack([o[:, 1], o[:, 2], o[:, 3] + 1, o[:, 4] + 1], 1) / DET_SIZE
        locs[i], clss[i] = match(gt, o[:, 0].astype(np.int64), priors)
    return torch.from_numpy(images), torch.from_numpy(locs), torch.from_numpy(clss)


def multibox_loss(loc, conf, t_loc, t_cls):
    pos = t_cls > 0
    n_pos = pos.sum().clamp(min=1)
    loss_loc = F.smooth_l1_loss(loc[pos], t_loc[pos], reduction="sum")
    ce = F.cross_entropy(conf.reshape(-1, conf.shape[-1]), t_cls.reshape(-1), reduction="none").view_as(t_cls)
    # hard negative mining: keep the 3*n_pos background priors with the highest loss per image
    neg_ce = ce.detach().masked_fill(pos, -1.0)
    rank = neg_ce.argsort(1, descending=True).argsort(1)
    neg = rank < (3 * pos.sum(1, keepdim=True)).clamp(min=3)
    loss_conf = ce[pos | neg].sum()
    return (loss_loc + loss_conf) / n_pos


def write_config(path: Path, n_priors: int) -> None:
    p = SSD_PRIORS
    text = f"""# Settings for `irc eval examples/models/digits_ssd.onnx --data examples/data/digits-voc`.
# Written by scripts/train/train_ssd.py; the priors must match the ones the model was trained with.

[preprocess]
resize = [{DET_SIZE}, {DET_SIZE}]
channels = "RGB"
scale = 1.0
mean = [{MEAN}, {MEAN}, {MEAN}]
std = [{STD}, {STD}, {STD}]
layout = "NCHW"

[detection]
boxes_output = "boxes"
scores_output = "scores"
box_encoding = "deltas"
variances = [{VARIANCES[0]}, {VARIANCES[1]}]
score_activation = "none"      # the model already applies softmax
background_class = 0
conf_threshold = 0.01
nms_iou = 0.45
top_k = 200
keep_top_k = 100

[detection.priors]             # {n_priors} boxes
image_size = {p["image_size"]}
feature_maps = {p["feature_maps"]}
min_sizes = {p["min_sizes"]}
max_sizes = {p["max_sizes"]}
aspect_ratios = {p["aspect_ratios"]}
clip = {str(p["clip"]).lower()}
"""
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--images", type=int, default=2500)
    ap.add_argument("--out", type=Path, default=MODELS)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    priors = ssd_priors(**SSD_PRIORS)
    x, t_loc, t_cls = make_set(args.images, priors, SEED + 3)
    model = SSDLite(priors=len(priors))
    opt = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=1e-4)
    bs = 32
    steps = args.epochs * math.ceil(len(x) / bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=steps, pct_start=0.15)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), bs):
            idx = perm[i:i + bs]
            loc, conf = model.raw(x[idx])
            loss = multibox_loss(loc, conf, t_loc[idx], t_cls[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"ssd: epoch {epoch + 1}/{args.epochs} loss {total / len(x):.3f} ({time.time() - t0:.0f}s)", flush=True)
    path = args.out / "digits_ssd.onnx"
    export_onnx(model, x[:1], path, ["boxes", "scores"])
    write_config(args.out / "digits_ssd.toml", len(priors))
    print(f"ssd: wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
