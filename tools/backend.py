"""irc as an ONNX backend (the `onnx.backend.base.Backend` API, as onnxruntime.backend offers).

    import irc.backend
    rep = irc.backend.prepare(model)            # import into the IR, verify, plan kernels
    outputs = rep.run([x])                      # numpy interpreter

This is what lets onnx's own backend test suite run against irc.

Shape-like parameters fed as graph inputs (Reshape's shape, Slice's starts, Resize's scales, the
reduction axes, Clip's bounds, ...) are attributes in irc's IR, so import needs their values. When
that is the only obstacle, `prepare` defers the import and `run` specializes the model: the
graph inputs the importer names (ConstantInputsNeeded) become initializers holding the values
given to this run, the model is imported and verified, and the compiled graph is cached under
those values, so later runs with the same values reuse it (see specs/backend-api.md).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.base import Backend, BackendRep

from irc.backends.numpy_interp import Interpreter
from irc.backends.onnx import import_onnx
from irc.backends.onnx.importer import ONNX_TO_ELEMENT, ConstantInputsNeeded, canonicalize_opset, load_onnx
from irc.ir.diagnostics import IRError
from irc.ir.types import ELEMENT_DTYPES

CACHE_SIZE = 16
"""Specialized graphs kept per prepared model (least recently used dropped first)."""


class IrcRep(BackendRep):
    """A prepared model: one imported graph, or a model specialized on its shape-like inputs."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = canonicalize_opset(load_onnx(model))
        inits = {t.name for t in self.model.graph.initializer}
        self.input_names = [vi.name for vi in self.model.graph.input if vi.name not in inits]
        self.graph = None  # the imported graph when no input needs to be bound
        self.bound: list[str] = []  # graph inputs bound to their values at run time
        self._cache: OrderedDict[bytes, Interpreter] = OrderedDict()
        try:
            self.graph = import_onnx(self.model)
        except ConstantInputsNeeded as e:
            self.bound = list(e.names)
        if self.graph is not None:
            self.interpreter = Interpreter(self.graph)

    @property
    def specializations(self) -> int:
        """How many specialized graphs are cached (0 when the model imported as it is)."""
        return len(self._cache)

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        feeds = self._feeds(inputs)
        if self.graph is not None:
            interpreter = self.interpreter
        else:
            interpreter = self._specialized(feeds)
        graph = interpreter.graph
        wanted = {v.name for v in graph.inputs}
        out = interpreter.run({k: v for k, v in feeds.items() if k in wanted})
        return tuple(out[v.name] for v in graph.outputs)

    def _feeds(self, inputs: Any) -> dict[str, np.ndarray]:
        if isinstance(inputs, dict):
            return dict(inputs)
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        return dict(zip(self.input_names, inputs))

    def _specialized(self, feeds: dict[str, np.ndarray]) -> Interpreter:
        """The interpreter of the model with the bound inputs fixed to their values in `feeds`
        (imported on the first run with these values, from the cache afterwards)."""
        while True:
            values = {n: self._bound_value(n, feeds) for n in self.bound}
            key = _cache_key(values)
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            try:
                graph = import_onnx(_bind(self.model, values))
            except ConstantInputsNeeded as e:
                # found only once earlier ones were bound (behind the nodes that needed them)
                new = [n for n in e.names if n not in self.bound]
                if not new:
                    raise
                self.bound = [n for n in self.input_names if n in self.bound or n in new]
                continue
            interpreter = Interpreter(graph)
            self._cache[key] = interpreter
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            return interpreter

    def _bound_value(self, name: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The array fed for graph input `name`, checked against its declared type."""
        if name not in feeds:
            raise IRError(f"graph input {name!r} is not fed; irc needs its value to specialize the model")
        vi = next(v for v in self.model.graph.input if v.name == name)
        arr = np.asarray(feeds[name])
        element = ONNX_TO_ELEMENT.get(vi.type.tensor_type.elem_type)
        if element is None:
            raise IRError(f"graph input {name!r} has an element type irc does not support")
        want = np.dtype(ELEMENT_DTYPES[element])
        if arr.dtype != want:
            if arr.dtype.kind != want.kind:
                raise IRError(f"graph input {name!r}: got a {arr.dtype} array, the model declares {want}")
            arr = arr.astype(want)
        dims = vi.type.tensor_type.shape.dim
        if vi.type.tensor_type.HasField("shape") and (
                len(dims) != arr.ndim or any(d.HasField("dim_value") and d.dim_value != n
                                             for d, n in zip(dims, arr.shape))):
            declared = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
            raise IRError(f"graph input {name!r}: got shape {list(arr.shape)}, the model declares {declared}")
        return arr


def _cache_key(values: dict[str, np.ndarray]) -> bytes:
    """The bound inputs' names, dtypes, shapes and bytes, as one key."""
    parts = []
    for name, arr in values.items():
        head = f"{name}\0{arr.dtype.str}\0{arr.shape}\0".encode()
        data = np.ascontiguousarray(arr).tobytes()
        parts.append(len(head).to_bytes(8, "little") + head + len(data).to_bytes(8, "little") + data)
    return b"".join(parts)


def _bind(model: onnx.ModelProto, values: dict[str, np.ndarray]) -> onnx.ModelProto:
    """A copy of `model` where the graph inputs in `values` are initializers holding them."""
    bound = onnx.ModelProto()
    bound.CopyFrom(model)
    g = bound.graph
    keep = [vi for vi in g.input if vi.name not in values]
    del g.input[:]
    g.input.extend(keep)
    g.initializer.extend(numpy_helper.from_array(arr, name) for name, arr in values.items())
    return bound


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
