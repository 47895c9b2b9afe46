"""irc's intermediate representation: types, values, ops, graphs, the op registry, the text format."""

from .attrs import AttrSpec
from .diagnostics import IRError, SourceError
from .graph import Graph, Weights
from .op import Op
from .parser import parse_text
from .printer import print_graph
from .registry import OP_REGISTRY, OpDef, Signature, VerifyError, define_op, get_op
from .types import QuantType, TensorType, tensor
from .value import Use, Value
from .verifier import verify_graph
from .weights_io import load_ir, save_ir

from . import ops as _ops  # noqa: F401  (declares the built-in ops: OP_REGISTRY is full on import)

__all__ = [
    "AttrSpec", "Graph", "IRError", "OP_REGISTRY", "Op", "OpDef", "QuantType", "Signature",
    "SourceError", "TensorType", "Use", "Value", "VerifyError", "Weights", "define_op", "get_op",
    "load_ir", "parse_text", "print_graph", "save_ir", "tensor", "verify_graph",
]
