"""Passes over the IR: the pass base and registry, pipelines, the pass manager, built-in passes."""

from .base import PASS_REGISTRY, Pass, PassContext, PassError, get_pass, load_plugin, register_pass
from .manager import Instrument, PassManager, PrintIRAfterAll, TimePasses
from .pipeline import Pipeline, parse_pipeline

from . import builtin as _builtin  # noqa: F401  (registers the built-in passes on import)

__all__ = [
    "Instrument", "PASS_REGISTRY", "Pass", "PassContext", "PassError", "PassManager", "Pipeline",
    "PrintIRAfterAll", "TimePasses", "get_pass", "load_plugin", "parse_pipeline", "register_pass",
]
