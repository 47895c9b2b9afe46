"""Pipeline strings.

    pipeline := element (',' element)*
    element  := NAME ('{' option (' ' option)* '}')?
    option   := KEY ('=' value (',' value)*)?        a KEY alone means KEY=true
    NAME, KEY: letters, digits, '-' and '_';   value: any text without ',', ' ', '{', '}'

e.g. `fold,dce,calibrate{method=percentile percentile=99.99},quantize{activations=u8}`.
Inside braces, commas separate the values of one option and spaces separate options.

`str(parse_pipeline(text))` gives the same text back (modulo spaces between elements). Unknown
pass names and options are errors that list what is valid.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from .base import Pass, PassError, convert_option, describe_option_type, get_pass, option_hints, option_key

_NAME = re.compile(r"[A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class PipelineElement:
    name: str
    options: tuple[tuple[str, tuple[str, ...]], ...]
    """The options as written: (key, values) pairs in order."""

    def __str__(self) -> str:
        if not self.options:
            return self.name
        parts = []
        for key, values in self.options:
            parts.append(f"{key}={','.join(values)}")
        return f"{self.name}{{{' '.join(parts)}}}"

    def instantiate(self) -> Pass:
        cls = get_pass(self.name)
        fields = {option_key(f.name): f for f in cls.options()}
        hints = option_hints(cls)
        kwargs = {}
        for key, values in self.options:
            f = fields.get(key) or fields.get(key.replace("_", "-"))
            if f is None:
                valid = ", ".join(f"{k} ({describe_option_type(hints[f.name])})" for k, f in fields.items())
                raise PassError(f"pass {self.name!r} has no option {key!r}; "
                                f"its options: {valid or 'none'}")
            kwargs[f.name] = convert_option(self.name, f, list(values), hints)
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as e:
            raise PassError(f"pass {self.name!r}: {e}") from None


@dataclass(frozen=True)
class Pipeline:
    elements: tuple[PipelineElement, ...]

    def __str__(self) -> str:
        return ",".join(str(e) for e in self.elements)

    def instantiate(self) -> list[Pass]:
        return [e.instantiate() for e in self.elements]


def parse_pipeline(text: str) -> Pipeline:
    """Parse a pipeline string; every pass name and option is checked against the registry."""
    p = _Parser(text)
    pipe = p.parse()
    for e in pipe.elements:
        e.instantiate()  # validates names, options and values now, with a clear message
    return pipe


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def error(self, message: str) -> PassError:
        return PassError(f"bad pipeline at column {self.i + 1}: {message}\n  {self.text}\n  {' ' * self.i}^")

    def skip_ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i] == " ":
            self.i += 1

    def name(self, what: str) -> str:
        m = _NAME.match(self.text, self.i)
        if not m:
            raise self.error(f"expected {what}")
        self.i = m.end()
        return m.group()

    def parse(self) -> Pipeline:
        elements = []
        self.skip_ws()
        if self.i == len(self.text):
            return Pipeline(())
        while True:
            self.skip_ws()
            elements.append(self.element())
            self.skip_ws()
            if self.i == len(self.text):
                return Pipeline(tuple(elements))
            if self.text[self.i] != ",":
                raise self.error("expected ',' between passes")
            self.i += 1

    def element(self) -> PipelineElement:
        name = self.name("a pass name")
        options: list[tuple[str, tuple[str, ...]]] = []
        if self.i < len(self.text) and self.text[self.i] == "{":
            self.i += 1
            while True:
                self.skip_ws()
                if self.i < len(self.text) and self.text[self.i] == "}":
                    self.i += 1
                    break
                key = self.name("an option name")
                if any(k == key for k, _ in options):
                    raise self.error(f"option {key!r} given twice")
                values: list[str] = ["true"]
                if self.i < len(self.text) and self.text[self.i] == "=":
                    self.i += 1
                    values = [self.value()]
                    while self.i < len(self.text) and self.text[self.i] == ",":
                        self.i += 1
                        values.append(self.value())
                options.append((key, tuple(values)))
                if self.i >= len(self.text):
                    raise self.error("missing '}'")
                if self.text[self.i] not in " }":
                    raise self.error("expected ' ' or '}' after an option")
        return PipelineElement(name, tuple(options))

    def value(self) -> str:
        start = self.i
        while self.i < len(self.text) and self.text[self.i] not in ", {}":
            self.i += 1
        if self.i == start:
            raise self.error("expected a value")
        return self.text[start:self.i]


def describe_passes() -> list[tuple[str, str, list[str]]]:
    """(name, summary, ['key: type = default', ...]) of every registered pass, sorted."""
    from .base import PASS_REGISTRY, load_pass_plugins

    load_pass_plugins()
    out = []
    for name in sorted(PASS_REGISTRY):
        cls = PASS_REGISTRY[name]
        hints = option_hints(cls)
        opts = []
        for f in cls.options():
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f"{f.default_factory()} (on this host)"
            else:
                default = "(required)"
            opts.append(f"{option_key(f.name)}: {describe_option_type(hints[f.name])} = {default}")
        out.append((name, cls.summary(), opts))
    return out
