"""The nine `light` CNN topologies of onnx's backend test data, with realistic random weights.

The files in `onnx/backend/test/data/light/` keep the architectures of ResNet50, Inception v1/v2,
DenseNet121, SqueezeNet, ShuffleNet, VGG19, AlexNet and ZFNet512 but store most weights as
ConstantOfShape nodes (every weight the same value), which says little about numerics.
`realistic_light_model` replaces every weight, by the role of the tensor in the op that reads it:

    conv / gemm weight      He-normal: N(0, sqrt(2 / fan_in))
    conv / gemm bias        N(0, 0.02)
    batch-norm scale        1 + N(0, 0.1)      bias, mean: N(0, 0.1)      var: U(0.7, 1.3)
    anything else           N(0, 0.1)

The topology, names and opset stay as shipped (Sum, Dropout, LRN and all).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

LIGHT_MODELS = ("bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50",
                "shufflenet", "squeezenet", "vgg19", "zfnet512")


def light_dir() -> Path:
    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def light_model_path(name: str) -> Path:
    if name not in LIGHT_MODELS:
        raise ValueError(f"unknown light model {name!r}; known: {', '.join(LIGHT_MODELS)}")
    return light_dir() / f"light_{name}.onnx"


def light_reference_output_path(name: str) -> Path:
    return light_dir() / f"light_{name}_output_0.pb"


def _role(model: onnx.ModelProto, tensor: str) -> str:
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            if name != tensor:
                continue
            if node.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
                return {1: "weight", 2: "bias"}.get(i, "other")
            if node.op_type == "BatchNormalization":
                return {1: "bn_scale", 2: "bn_bias", 3: "bn_mean", 4: "bn_var"}.get(i, "other")
            if node.op_type == "PRelu" and i == 1:
                return "slope"
    return "other"


def _realistic(role: str, shape: tuple[int, ...], rng: np.random.Generator, op_hint: str = "") -> np.ndarray:
    if role == "weight":
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else int(shape[0])
        return rng.normal(0.0, np.sqrt(2.0 / max(fan_in, 1)), shape)
    if role == "bias":
        return rng.normal(0.0, 0.02, shape)
    if role == "bn_scale":
        return 1.0 + rng.normal(0.0, 0.1, shape)
    if role in ("bn_bias", "bn_mean"):
        return rng.normal(0.0, 0.1, shape)
    if role == "bn_var":
        return rng.uniform(0.7, 1.3, shape)
    if role == "slope":
        return np.full(shape, 0.25)
    return rng.normal(0.0, 0.1, shape)


def realistic_light_model(name: str, seed: int = 0) -> onnx.ModelProto:
    """The light model `name` with every weight replaced by realistic random values."""
    model = onnx.load(str(light_model_path(name)))
    rng = np.random.default_rng(seed)
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    new_inits = []
    keep_nodes = []
    for n in g.node:
        if n.op_type == "ConstantOfShape" and n.input[0] in consts:
            shape = tuple(int(d) for d in consts[n.input[0]])
            arr = _realistic(_role(model, n.output[0]), shape, rng).astype(np.float32)
            new_inits.append(numpy_helper.from_array(arr, n.output[0]))
        else:
            keep_nodes.append(n)
    for t in g.initializer:
        arr = numpy_helper.to_array(t)
        if arr.dtype == np.float32 and arr.ndim >= 1:
            arr = _realistic(_role(model, t.name), arr.shape, rng).astype(np.float32)
        new_inits.append(numpy_helper.from_array(arr, t.name))
    del g.node[:]
    g.node.extend(keep_nodes)
    used = {i for n in keep_nodes for i in n.input} | {o.name for o in g.output}
    del g.initializer[:]
    g.initializer.extend(t for t in new_inits if t.name in used)
    # old-style models list initializers as inputs too; keep only the real inputs
    real_inputs = [vi for vi in g.input if vi.name not in {t.name for t in new_inits}]
    del g.input[:]
    g.input.extend(real_inputs)
    model.ir_version = max(model.ir_version, 7)  # IR 3 wanted initializers listed as inputs
    return model
