"""A small FileCheck: match CHECK directives of a test file against a tool's output.

Directives (with a prefix, default CHECK):
    // CHECK: text          the next match of `text` after the previous match
    // CHECK-NEXT: text     on the line right after the previous match
    // CHECK-SAME: text     on the same line as the previous match, after it
    // CHECK-NOT: text      not between the previous match and the next one
    // CHECK-LABEL: text    like CHECK, and splits the output into blocks
    // CHECK-EMPTY:         the next line is empty
Patterns are literal text with `{{regex}}` and `[[NAME:regex]]` (capture) / `[[NAME]]` (use).
Whitespace runs in patterns match any whitespace run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class CheckFailure(AssertionError):
    pass


@dataclass
class Directive:
    kind: str
    pattern: str
    line: int


def parse_directives(text: str, prefix: str = "CHECK") -> list[Directive]:
    rx = re.compile(rf"//\s*{re.escape(prefix)}(|-NEXT|-SAME|-NOT|-LABEL|-EMPTY):\s?(.*)$")
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        m = rx.search(line)
        if m:
            out.append(Directive(m.group(1).lstrip("-") or "CHECK", m.group(2).rstrip(), i))
    return out


def _to_regex(pattern: str, vars: dict[str, str]) -> tuple[re.Pattern, list[str]]:
    out, names, i = [], [], 0
    while i < len(pattern):
        if pattern.startswith("{{", i):
            j = pattern.index("}}", i)
            out.append(f"(?:{pattern[i + 2:j]})")
            i = j + 2
        elif pattern.startswith("[[", i):
            j = pattern.index("]]", i)
            body = pattern[i + 2:j]
            if ":" in body:
                name, rx = body.split(":", 1)
                out.append(f"(?P<{name}>{rx})")
                names.append(name)
            else:
                if body not in vars:
                    raise CheckFailure(f"variable [[{body}]] used before it is defined")
                out.append(re.escape(vars[body]))
            i = j + 2
        elif pattern[i].isspace():
            while i < len(pattern) and pattern[i].isspace():
                i += 1
            out.append(r"\s+")
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out)), names


def filecheck(output: str, directives: list[Directive], name: str = "") -> None:
    """Raise CheckFailure with context when `output` does not satisfy `directives`."""
    lines = output.splitlines()
    vars: dict[str, str] = {}
    pos_line, pos_col = 0, 0  # position after the last match
    pending_not: list[Directive] = []

    def fail(d: Directive, why: str) -> CheckFailure:
        shown = "\n".join(f"  {i + 1:4}| {text}" for i, text in enumerate(lines))
        return CheckFailure(f"{name}:{d.line}: {d.kind}: {d.pattern!r} {why}\noutput:\n{shown}")

    def search_from(rx, line, col):
        for li in range(line, len(lines)):
            m = rx.search(lines[li], col if li == line else 0)
            if m:
                return li, m
        return None, None

    for d in directives:
        if d.kind == "NOT":
            pending_not.append(d)
            continue
        rx, names = _to_regex(d.pattern, vars) if d.kind != "EMPTY" else (None, [])
        if d.kind in ("CHECK", "LABEL"):
            li, m = search_from(rx, pos_line, pos_col)
            if m is None:
                raise fail(d, "not found after the previous match")
        elif d.kind == "NEXT":
            li = pos_line + 1
            m = rx.search(lines[li]) if li < len(lines) else None
            if m is None:
                raise fail(d, f"not on the next line (line {li + 1})")
        elif d.kind == "SAME":
            li = pos_line
            m = rx.search(lines[li], pos_col) if li < len(lines) else None
            if m is None:
                raise fail(d, "not on the same line")
        else:  # EMPTY
            li = pos_line + 1
            if li >= len(lines) or lines[li].strip():
                raise fail(d, f"line {li + 1} is not empty")
            m = None
        for nd in pending_not:
            nrx, _ = _to_regex(nd.pattern, vars)
            region = "\n".join(lines[pos_line:li + 1])
            if nrx.search(region):
                raise fail(nd, "found where it must not be")
        pending_not = []
        if m is not None:
            for n in names:
                vars[n] = m.group(n)
            pos_line, pos_col = li, m.end()
        else:
            pos_line, pos_col = li, 0
    for nd in pending_not:
        nrx, _ = _to_regex(nd.pattern, vars)
        if nrx.search("\n".join(lines[pos_line:])):
            raise fail(nd, "found where it must not be")
