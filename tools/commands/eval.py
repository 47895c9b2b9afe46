"""`irc eval`: measure a model's accuracy on a data set with one or more metrics."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from irc.data import Preprocess, load_preprocess, open_dataset, read_config_file
from irc.detection import DetectionConfig
from irc.ir.diagnostics import IRError

NAME = "eval"
HELP = "measure accuracy (top-1/top-5, VOC mAP, agreement, cosine/SQNR, custom) on a data set"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="the model: .onnx (run by onnxruntime) or .ir (numpy interpreter)")
    p.add_argument("--data", required=True, metavar="PATH",
                   help="an .npz file, an ImageNet-style folder, or a Pascal VOC 2007 root")
    p.add_argument("--data-format", choices=["npz", "imagefolder", "voc"], help="override the guessed format")
    p.add_argument("--split", default="test", help="VOC image list ImageSets/Main/SPLIT.txt (default: test)")
    p.add_argument("--labels-file", metavar="FILE", help="class names, one per line, in class-index order")
    p.add_argument("--metric", action="append", metavar="NAME",
                   help="top1, top5, map, map_all, agreement, cosine, sqnr or module:function; repeat or "
                        "comma-separate for several (default: top1 for labeled classification data, "
                        "map for VOC data, agreement with --reference on unlabeled data)")
    p.add_argument("--reference", metavar="MODEL", help="a reference (fp32) model for agreement/cosine/sqnr")
    p.add_argument("--output", metavar="NAME", help="the model output the metrics read (default: the first; "
                   "cosine/sqnr: all outputs)")
    p.add_argument("--limit", type=int, metavar="N", help="evaluate a seeded random subset of N samples")
    p.add_argument("--seed", type=int, default=0, help="seed of the --limit subset (default 0)")
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="samples per batch (default 32)")
    p.add_argument("--config", metavar="FILE", help="a TOML/JSON file with [preprocess] and/or [detection] tables")
    g = p.add_argument_group("preprocessing (image data; override --config/--preprocess)")
    g.add_argument("--preprocess", metavar="FILE", help="preprocessing settings file (TOML or JSON)")
    g.add_argument("--resize", metavar="N|HxW", help="resize the shorter side to N, or exactly to HxW")
    g.add_argument("--crop", metavar="N|HxW", help="center crop")
    g.add_argument("--mean", metavar="M[,M,M]", help="per-channel mean, in scaled pixel units")
    g.add_argument("--std", metavar="S[,S,S]", help="per-channel standard deviation")
    g.add_argument("--scale", type=float, choices=[1.0, 255.0], help="pixel range [0,1] (1) or [0,255] (255)")
    g.add_argument("--channels", choices=["RGB", "BGR", "GRAY"], type=str.upper, help="channel order")
    g.add_argument("--layout", choices=["NCHW", "NHWC"], type=str.upper, help="input layout")
    g.add_argument("--interpolation", choices=["nearest", "bilinear", "bicubic", "lanczos", "box"])
    d = p.add_argument_group("detection decoding (override --config/--detection)")
    d.add_argument("--detection", metavar="FILE", help="detection settings file (TOML or JSON)")
    d.add_argument("--box-encoding", choices=["deltas", "corners", "center"])
    d.add_argument("--priors", metavar="FILE.npy", help="prior boxes [P,4] (cx, cy, w, h), normalized")
    d.add_argument("--variances", metavar="V0,V1", help="SSD box variances (default 0.1,0.2)")
    d.add_argument("--score-activation", choices=["none", "softmax", "sigmoid"])
    d.add_argument("--background-class", type=int, metavar="K", help="score column of the background (-1: none)")
    d.add_argument("--conf-threshold", type=float, metavar="T")
    d.add_argument("--nms-iou", type=float, metavar="T")
    d.add_argument("--top-k", type=int, metavar="N", help="boxes per class considered by NMS")
    d.add_argument("--keep-top-k", type=int, metavar="N", help="detections kept per image")
    d.add_argument("--boxes-output", metavar="NAME")
    d.add_argument("--scores-output", metavar="NAME")
    d.add_argument("--iou-threshold", type=float, default=0.5, help="mAP match threshold (default 0.5)")
    d.add_argument("--map-method", choices=["11point", "all"], help="AP rule for --metric map "
                   "(default 11point, the VOC2007 rule)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _size(text: str | None, opt: str):
    if text is None:
        return None
    parts = text.lower().replace(",", "x").split("x")
    try:
        vals = [int(v) for v in parts]
    except ValueError:
        raise IRError(f"{opt} expects N or HxW, got {text!r}") from None
    if len(vals) == 1:
        return vals[0]
    if len(vals) == 2:
        return vals
    raise IRError(f"{opt} expects N or HxW, got {text!r}")


def _floats(text: str | None, opt: str):
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise IRError(f"{opt} expects comma-separated numbers, got {text!r}") from None


def _section(path: str, table: str) -> tuple[dict, Path]:
    data = read_config_file(path)
    sub = data.get(table)
    if sub is not None and not isinstance(sub, dict):
        raise IRError(f"{path}: [{table}] must be a table")
    return (sub or {}), Path(path).parent


def build_preprocess(args) -> Preprocess:
    pre = Preprocess()
    if args.config:
        sec, _ = _section(args.config, "preprocess")
        pre = Preprocess.from_mapping(sec, where=f"{args.config} [preprocess]")
    if args.preprocess:
        pre = load_preprocess(args.preprocess)
    return pre.updated({"resize": _size(args.resize, "--resize"), "crop": _size(args.crop, "--crop"),
                        "mean": _floats(args.mean, "--mean"), "std": _floats(args.std, "--std"),
                        "scale": args.scale, "channels": args.channels, "layout": args.layout,
                        "interpolation": args.interpolation}, where="command line")


def build_detection(args) -> DetectionConfig | None:
    data: dict = {}
    base = None
    where = "detection options"
    for path in (args.config, args.detection):
        if path:
            sec, base = _section(path, "detection")
            if path == args.detection and not sec:  # a file holding the keys at top level
                sec = {k: v for k, v in read_config_file(path).items() if k != "preprocess"}
            data.update(sec)
            where = f"{path} [detection]"
    over = {"box_encoding": args.box_encoding, "priors_file": args.priors,
            "variances": _floats(args.variances, "--variances"), "score_activation": args.score_activation,
            "background_class": args.background_class, "conf_threshold": args.conf_threshold,
            "nms_iou": args.nms_iou, "top_k": args.top_k, "keep_top_k": args.keep_top_k,
            "boxes_output": args.boxes_output, "scores_output": args.scores_output}
    over = {k: v for k, v in over.items() if v is not None}
    if "priors_file" in over:
        data.pop("priors", None)
    data.update(over)
    if not data:
        return None
    return DetectionConfig.from_mapping(data, where=where, base_dir=base)


def _metric_names(args, ds) -> list[str]:
    names = [n.strip() for m in (args.metric or []) for n in m.split(",") if n.strip()]
    if not names:
        if ds.task == "detection":
            names = ["map"]
        elif ds.task == "classification":
            names = ["top1"]
        elif args.reference:
            names = ["agreement"]
        else:
            raise IRError(f"{args.data} has no labels: give --metric with --reference (agreement, cosine, sqnr) "
                          "or a module:function metric")
    if args.map_method == "all":
        names = ["map_all" if n.lower() == "map" else n for n in names]
    return names


def _fmt(v: float) -> str:
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4f}"


def run(args) -> int:
    from irc.evaluation import evaluate
    from irc.metrics import make_metric

    pre = build_preprocess(args)
    det = build_detection(args)
    ds = open_dataset(args.data, format=args.data_format, preprocess=pre, labels_file=args.labels_file,
                      split=args.split)
    metrics = [make_metric(n, output=args.output, detection=det, classes=ds.classes,
                           iou_threshold=args.iou_threshold) for n in _metric_names(args, ds)]
    progress = False if (args.quiet or args.json) else None
    res = evaluate(args.model, ds, metrics, reference=args.reference, batch_size=args.batch_size,
                   limit=args.limit, seed=args.seed, progress=progress)
    if args.json:
        json.dump(res.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{Path(res.model).name} on {ds.describe()}: {res.samples} evaluated in {res.seconds:.2f} s")
    width = max(10, *(len(r.name) for r in res.results))
    for r in res.results:
        extra = ""
        if "correct" in r.details:
            extra = f"  ({r.details['correct']}/{r.details['samples']})"
        elif "agree" in r.details:
            extra = f"  ({r.details['agree']}/{r.details['samples']})"
        elif "method" in r.details:
            extra = f"  (VOC {r.details['method']}, IoU > {r.details['iou_threshold']})"
        print(f"  {r.name:<{width}} {_fmt(r.value)}{extra}")
        for cls, ap in r.details.get("ap_per_class", {}).items():
            print(f"      AP {cls:<12} {'n/a (no objects)' if math.isnan(ap) else f'{ap:.4f}'}")
    return 0
