"""Pass base class, options, the pass registry and plugin loading.

A pass is a frozen dataclass: its fields are its options (typed by their annotations), its
docstring is its help text, and `run(graph, ctx)` rewrites the graph in place and returns whether
it changed anything:

    @register_pass
    @dataclass(frozen=True)
    class DropIdentity(Pass):
        '''Remove identity ops: identity(x) -> x.'''
        name: ClassVar[str] = "drop-identity"

        def run(self, graph, ctx) -> bool:
            ...

Option keys are written kebab-case in pipelines (`per-channel=true`) and map to snake_case fields.
Passes keep no state between runs; what they learn goes into the IR or the PassContext.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from irc.ir.diagnostics import IRError
from irc.ir.graph import Graph


class PassError(IRError):
    """A pass could not do its work, or was configured wrongly."""


@dataclass
class PassContext:
    """What passes share besides the graph: data, settings and results of analyses.

    calib     an iterable of {input name: batch array} for calibration (or a callable making one)
    seed      for anything random
    quiet     no progress bars
    stats     what passes report (pass name -> {statistic: value}), shown by the driver
    budget    an accuracy budget (irc.passes.budget.AccuracyBudget): the pass manager then runs
              `quantize` through the budget search, and the search's result lands in it
    sample_batch  the first calibration batch (a few samples, checked and cast), kept by
              `calibrate` for drivers that check the model they emit
    """

    calib: Any = None
    seed: int = 0
    quiet: bool = False
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    budget: Any = None
    sample_batch: dict[str, Any] | None = None

    def record(self, pass_name: str, key: str, value: Any) -> None:
        self.stats.setdefault(pass_name, {})[key] = value


@dataclass(frozen=True)
class Pass:
    name: ClassVar[str] = ""

    def run(self, graph: Graph, ctx: PassContext) -> bool:
        raise NotImplementedError

    @classmethod
    def options(cls) -> list[dataclasses.Field]:
        return [f for f in dataclasses.fields(cls) if f.init]

    @classmethod
    def summary(cls) -> str:
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


PASS_REGISTRY: dict[str, type[Pass]] = {}


def register_pass(cls: type[Pass]) -> type[Pass]:
    """Class decorator: make a pass available to pipelines under `cls.name`."""
    if not cls.name:
        raise ValueError(f"pass class {cls.__name__} has no name")
    existing = PASS_REGISTRY.get(cls.name)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"pass {cls.name!r} is registered twice ({existing.__module__} and {cls.__module__})")
    PASS_REGISTRY[cls.name] = cls
    return cls


def get_pass(name: str) -> type[Pass]:
    load_pass_plugins()
    cls = PASS_REGISTRY.get(name)
    if cls is None:
        known = sorted(PASS_REGISTRY)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise PassError(f"unknown pass {name!r}{hint}; known passes: {', '.join(known)}")
    return cls


_plugins_loaded = False


def load_pass_plugins() -> None:
    """Import the passes installed packages offer (entry point group `irc.passes`), once.

    The built-in passes register when `irc.passes` is imported; plugins wait for the first
    lookup, so that a broken one costs a warning only when passes are asked for.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="irc.passes"):
        try:
            ep.load()
        except Exception as e:  # a broken plugin should not break irc
            print(f"warning: cannot load pass plugin {ep.name!r}: {e}", file=sys.stderr)


def load_plugin(path: str) -> None:
    """Import a user's module (a .py file or a dotted module name) so its passes register."""
    p = Path(path)
    try:
        if p.suffix == ".py" or p.exists():
            if not p.is_file():
                raise PassError(f"{path}: plugin file not found")
            spec = importlib.util.spec_from_file_location(f"irc_plugin_{p.stem}", p)
            if spec is None or spec.loader is None:
                raise PassError(f"{path}: cannot load as a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            importlib.import_module(path)
    except PassError:
        raise
    except Exception as e:
        raise PassError(f"{path}: loading the plugin failed: {type(e).__name__}: {e}") from e


# -- option conversion ------------------------------------------------------------------------

def option_key(field_name: str) -> str:
    return field_name.replace("_", "-")


def convert_option(pass_name: str, f: dataclasses.Field, values: list[str], hints: dict[str, Any]) -> Any:
    """Turn the text values of one option into the field's type."""
    tp = hints[f.name]
    key = option_key(f.name)

    def bad(what: str) -> PassError:
        return PassError(f"pass {pass_name!r}: option {key!r} {what}")

    origin = typing.get_origin(tp)
    if origin is tuple:
        (item,) = {a for a in typing.get_args(tp) if a is not Ellipsis}
        return tuple(_convert_scalar(item, v, bad) for v in values)
    if len(values) != 1:
        raise bad(f"takes one value, got {len(values)}")
    return _convert_scalar(tp, values[0], bad)


def _convert_scalar(tp: Any, text: str, bad) -> Any:
    if typing.get_origin(tp) is Literal:
        choices = typing.get_args(tp)
        if text not in choices:
            raise bad(f"must be one of {', '.join(choices)}, got {text!r}")
        return text
    if tp is bool:
        if text.lower() in ("true", "1", "yes", "on"):
            return True
        if text.lower() in ("false", "0", "no", "off"):
            return False
        raise bad(f"must be true or false, got {text!r}")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            raise bad(f"must be an integer, got {text!r}") from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise bad(f"must be a number, got {text!r}") from None
    if tp is str:
        return text
    raise bad(f"has an unsupported type {tp}")


def describe_option_type(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "|".join(typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        (item,) = {a for a in typing.get_args(tp) if a is not Ellipsis}
        return f"{describe_option_type(item)},..."
    return getattr(tp, "__name__", str(tp))


def option_hints(cls: type[Pass]) -> dict[str, Any]:
    return typing.get_type_hints(cls)
