"""Small real files for the data/metrics tests: PNG/JPEG folders, VOC roots, tiny ONNX models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def write_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return path


def hot_pixel_folder(root: Path, per_class: int = 3, classes: int = 4, side: int = 2) -> Path:
    """A side x side grey image folder: class k's images have their brightest pixel at flat index k."""
    rng = np.random.default_rng(0)
    for k in range(classes):
        for i in range(per_class):
            a = rng.integers(0, 100, size=side * side)
            a[k] = 250
            write_png(root / f"c{k}" / f"{i}.png", a.reshape(side, side))
    return root


def save_model(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def flatten_classifier(path: Path, side: int = 2, scale: float = 1.0) -> Path:
    """[N,1,side,side] -> logits [N, side*side]: the flattened pixels times `scale` (argmax = hot pixel)."""
    pixels = side * side
    w = numpy_helper.from_array((np.eye(pixels) * scale).astype(np.float32), "w")
    g = helper.make_graph(
        [helper.make_node("Flatten", ["input"], ["f"], axis=1), helper.make_node("MatMul", ["f", "w"], ["logits"])],
        "cls", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, side, side])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", pixels])], [w])
    return save_model(g, path)


def constant_detector(path: Path, boxes: np.ndarray, scores: np.ndarray, size: int = 16) -> Path:
    """[N,3,size,size] -> the same boxes [N,P,4] and scores [N,P,C] for every image."""
    zero = numpy_helper.from_array(np.zeros((), np.float32), "zero")
    b = numpy_helper.from_array(boxes.astype(np.float32)[None], "b")
    s = numpy_helper.from_array(scores.astype(np.float32)[None], "s")
    nodes = [helper.make_node("ReduceMean", ["input"], ["m"], axes=[1, 2, 3], keepdims=1),  # [N,1,1,1]
             helper.make_node("Squeeze", ["m", "ax"], ["m3"]),                               # [N,1,1]
             helper.make_node("Mul", ["m3", "zero"], ["z"]),
             helper.make_node("Add", ["z", "b"], ["boxes"]),
             helper.make_node("Add", ["z", "s"], ["scores"])]
    ax = numpy_helper.from_array(np.array([3], np.int64), "ax")
    g = helper.make_graph(nodes, "det", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])],
                          [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["N", len(boxes), 4]),
                           helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", len(boxes), scores.shape[1]])],
                          [zero, b, s, ax])
    return save_model(g, path)


def voc_xml(objects, width=16, height=16, filename="x.jpg") -> str:
    """objects: (name, xmin, ymin, xmax, ymax, difficult) tuples; None fields are left out."""
    parts = [f"<annotation><filename>{filename}</filename>",
             f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"]
    for name, x0, y0, x1, y1, diff in objects:
        o = "<object>"
        if name is not None:
            o += f"<name>{name}</name>"
        if diff is not None:
            o += f"<difficult>{diff}</difficult>"
        o += "<bndbox>"
        for tag, v in (("xmin", x0), ("ymin", y0), ("xmax", x1), ("ymax", y1)):
            if v is not None:
                o += f"<{tag}>{v}</{tag}>"
        parts.append(o + "</bndbox></object>")
    return "".join(parts) + "</annotation>\n"


def voc_root(root: Path, images: dict[str, list], size: int = 16, split: str = "test") -> Path:
    """A VOC layout with one grey-noise JPEG and one annotation per image id."""
    rng = np.random.default_rng(1)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    for image_id, objects in images.items():
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / "JPEGImages" / f"{image_id}.jpg")
        (root / "Annotations" / f"{image_id}.xml").write_text(voc_xml(objects, size, size, f"{image_id}.jpg"))
    (root / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(images) + "\n")
    return root
