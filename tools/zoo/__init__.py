"""Model zoo for tests and benchmarks: the CNN topologies that ship inside the onnx wheel, given
realistic random weights, and models built in code.

    model = zoo_model("resnet50")      # any name in ZOO_MODELS; fp32, opset 13, batch dim "N"
"""

from __future__ import annotations

import onnx

from .light import LIGHT_MODELS, light_model_path, realistic_light_model
from .mobilenet import mobilenet_v2
from .modernize import modernize
from .ssdlite import ssdlite

CODED_MODELS = ("mobilenetv2", "ssdlite")

ZOO_MODELS = ("resnet50", "inception_v1", "inception_v2", "densenet121", "squeezenet", "shufflenet",
              "vgg19", "bvlc_alexnet", "zfnet512", "mobilenetv2", "ssdlite")
"""The benchmark's eleven CNNs, in the order tables list them."""


def zoo_model(name: str, seed: int = 0) -> onnx.ModelProto:
    """The fp32 model `name` with realistic random weights (deterministic for a seed).

    Light models are modernized (see irc.zoo.modernize) so that quantizers accept them.
    """
    if name in LIGHT_MODELS:
        return modernize(realistic_light_model(name, seed=seed))
    if name == "mobilenetv2":
        return mobilenet_v2(seed=seed)
    if name == "ssdlite":
        return ssdlite(seed=seed)
    raise ValueError(f"unknown zoo model {name!r}; known: {', '.join(ZOO_MODELS)}")


__all__ = ["CODED_MODELS", "LIGHT_MODELS", "ZOO_MODELS", "light_model_path", "mobilenet_v2", "modernize",
           "realistic_light_model", "ssdlite", "zoo_model"]
