"""irc as an ONNX backend (the `onnx.backend.base.Backend` API, as onnxruntime.backend offers).

    import irc.onnx_backend
    rep = irc.onnx_backend.prepare(model)            # import into the IR, verify, plan kernels
    outputs = rep.run([x])                      # numpy interpreter

This is what lets onnx's own backend test suite run against irc. Every model imports (nodes irc
has no declared op for, or whose parameters are only known at run time, become generic ops), so
`prepare` imports once and `run` only runs the interpreter (see specs/backend-api.md).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep

from irc.backends.numpy_interp import Interpreter
from irc.onnx_import import import_onnx


class IrcRep(BackendRep):
    """A prepared model: the imported graph and its interpreter."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.graph = import_onnx(model)
        self.input_names = [v.io_name for v in self.graph.inputs]
        self.interpreter = Interpreter(self.graph)

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        feeds = dict(inputs) if isinstance(inputs, dict) else dict(zip(self.input_names, inputs))
        out = self.interpreter.run(feeds)
        return tuple(out[v.io_name] for v in self.graph.outputs)


class IrcBackend(Backend):
    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> IrcRep:
        if not cls.supports_device(device):
            raise RuntimeError(f"irc runs on CPU only, not {device}")
        return IrcRep(model)

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any):
        return cls.prepare(model, device).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Sequence[np.ndarray], device: str = "CPU",
                 outputs_info=None, **kwargs: Any):
        raise NotImplementedError("irc runs whole models; use run_model")

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device.upper().startswith("CPU")


prepare = IrcBackend.prepare
run_model = IrcBackend.run_model
run_node = IrcBackend.run_node
supports_device = IrcBackend.supports_device
is_compatible = IrcBackend.is_compatible
