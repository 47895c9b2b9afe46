"""Model zoo for tests and benchmarks: the CNN topologies that ship inside the onnx wheel, given
realistic random weights, and models built in code."""

from .light import LIGHT_MODELS, light_model_path, realistic_light_model

__all__ = ["LIGHT_MODELS", "light_model_path", "realistic_light_model"]
