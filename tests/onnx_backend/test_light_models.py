"""The nine `light` models of onnx's backend test data, as they ship, through onnx's own runner.

onnx's BackendTest runs each model (opset 9: ConstantOfShape weights, Sum, Dropout, LRN,
BatchNormalization) on irc.onnx_backend and compares with the reference outputs stored next to it
(`light_*_output_0.pb`), with the tolerances onnx's runner uses for them.
"""

from __future__ import annotations

import os
import tempfile

import onnx.backend.test

import irc.onnx_backend
from irc.zoo import LIGHT_MODELS

# the runner writes its test data under ONNX_HOME; keep that out of the user's home
os.environ.setdefault("ONNX_HOME", tempfile.mkdtemp(prefix="onnx_home_"))

_backend_test = onnx.backend.test.BackendTest(irc.onnx_backend, __name__)
for _name in LIGHT_MODELS:
    _backend_test.include(f"^test_{_name}_cpu$")


def _light_class():
    cls = _backend_test.test_cases["OnnxBackendRealModelTest"]
    wanted = {f"test_{n}_cpu" for n in LIGHT_MODELS}
    for attr in list(vars(cls)):
        if attr.startswith("test_") and attr not in wanted:
            delattr(cls, attr)
    return cls


OnnxBackendRealModelTest = _light_class()
