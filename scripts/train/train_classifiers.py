"""Train the example digit classifiers and export them to ONNX.

    python scripts/train/make_digits_data.py           # once, writes examples/data/
    python scripts/train/train_classifiers.py [--model resnet|mobilenetv2|inception|densenet|all]

Reads the ImageNet-style folders examples/data/digits-cls/{train,val}, trains on CPU with a
fixed seed (random shifts, rotations and scaling as augmentation), prints the validation top-1
measured in torch and writes examples/models/digits_<model>.onnx. The number to quote is the one
`irc eval` measures on the exported file (see examples/README.md).
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
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digits_common import CLASSES, CLS_ROOT, MODELS, SEED
from export_util import export_onnx
from models import CLASSIFIERS


def read_folder(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 [N,1,32,32] normalized to [-1,1] (the shipped preprocessing), labels [N]."""
    xs, ys = [], []
    for label, name in enumerate(CLASSES):
        for f in sorted((root / name).iterdir()):
            xs.append(np.asarray(Image.open(f).convert("L"), dtype=np.float32))
            ys.append(label)
    x = (np.stack(xs)[:, None] / 255.0 - 0.5) / 0.5
    return x.astype(np.float32), np.asarray(ys, dtype=np.int64)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random rotation (±12°), scale (0.9–1.1) and shift (±10%), background stays at -1."""
    n = x.shape[0]
    ang = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(12)
    scale = 0.9 + torch.rand(n, generator=gen) * 0.2
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * 0.2
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def accuracy(model, x, y) -> float:
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 256]).argmax(1) for i in range(0, len(x), 256)])
    return float((pred == y).float().mean())


def train(name: str, epochs: int, out: Path) -> None:
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    x_tr, y_tr = map(torch.from_numpy, read_folder(CLS_ROOT / "train"))
    x_va, y_va = map(torch.from_numpy, read_folder(CLS_ROOT / "val"))
    model = CLASSIFIERS[name]()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = epochs * math.ceil(len(x_tr) / 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x_tr), generator=gen)
        for i in range(0, len(x_tr), 64):
            idx = perm[i:i + 64]
            loss = F.cross_entropy(model(augment(x_tr[idx], gen)), y_tr[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if epoch % 10 == 9 or epoch + 1 == epochs:
            print(f"{name}: epoch {epoch + 1}/{epochs} loss {loss.item():.3f} "
                  f"val top-1 {accuracy(model, x_va, y_va):.4f} ({time.time() - t0:.0f}s)", flush=True)
    path = out / f"digits_{name}.onnx"
    export_onnx(model, x_va[:1], path, ["logits"])
    print(f"{name}: wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="all", choices=[*CLASSIFIERS, "all"])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--out", type=Path, default=MODELS)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (1 is fastest on a busy machine; more threads may change the last bits)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    for name in (CLASSIFIERS if args.model == "all" else [args.model]):
        train(name, args.epochs, args.out)


if __name__ == "__main__":
    main()
