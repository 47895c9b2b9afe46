"""Collects golden .ir files as tests.

Each file holds one or more cases split by lines `// -----`. A case has a RUN line:

    // RUN: opt --pipeline=fold,dce      run the pipeline on the case, FileCheck the printed IR
    // RUN: roundtrip                    print(parse(text)) must equal the case text exactly
    // RUN: verify-error                 parsing must fail; `// expected-error@+N {{text}}` gives
                                         the message and the line (N lines below the comment)
Options: `// CHECK-PREFIX: NAME` picks another prefix for that case. Every `opt` case is also
checked for the round-trip law on its output.
"""

from __future__ import annotations

import re

import pytest

from .checker import filecheck, parse_directives

SPLIT = re.compile(r"^// -----\s*$", re.M)


def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".ir" and "filecheck" in file_path.parts:
        return GoldenFile.from_parent(parent, path=file_path)


class GoldenFile(pytest.File):
    def collect(self):
        text = self.path.read_text()
        offset = 0
        for i, case in enumerate(SPLIT.split(text)):
            yield GoldenCase.from_parent(self, name=f"case{i}", case=case, line_offset=offset)
            offset += case.count("\n") + 1


class GoldenCase(pytest.Item):
    def __init__(self, *, case: str, line_offset: int, **kw):
        super().__init__(**kw)
        self.case = case
        self.line_offset = line_offset

    def runtest(self):
        from irc.ir import parse_text, print_graph
        from irc.ir.diagnostics import SourceError
        from irc.passes import PassContext, PassManager

        run = re.search(r"^// RUN:\s*(.*)$", self.case, re.M)
        if not run:
            raise AssertionError(f"{self.path}: case {self.name} has no RUN line")
        cmd = run.group(1).strip()
        prefix_m = re.search(r"^// CHECK-PREFIX:\s*(\S+)", self.case, re.M)
        prefix = prefix_m.group(1) if prefix_m else "CHECK"
        body = self.case.lstrip("\n")
        # the IR text of the case: everything except comment-only lines
        ir_text = "\n".join(ln for ln in body.splitlines() if not ln.lstrip().startswith("//")).strip("\n") + "\n"
        if cmd == "roundtrip":
            assert print_graph(parse_text(ir_text, str(self.path))) == ir_text
        elif cmd == "verify-error":
            expected = re.search(r"//\s*expected-error@\+(\d+)\s*\{\{(.*)\}\}", body)
            assert expected, "verify-error case without expected-error"
            with pytest.raises(SourceError) as info:
                parse_text(body, str(self.path))
            lines = body.splitlines()
            comment_line = next(i for i, ln in enumerate(lines, 1) if "expected-error" in ln)
            assert info.value.line == comment_line + int(expected.group(1)), str(info.value)
            assert expected.group(2) in info.value.message, str(info.value)
        elif cmd.startswith("opt"):
            m = re.search(r"--pipeline=(.*\S)", cmd)  # the rest of the line (options may hold spaces)
            graph = parse_text(ir_text, str(self.path))
            PassManager(m.group(1) if m else "").run(graph, PassContext(quiet=True))
            out = print_graph(graph)
            filecheck(out, parse_directives(self.case, prefix), f"{self.path}")
            assert print_graph(parse_text(out)) == out
        else:
            raise AssertionError(f"unknown RUN command {cmd!r}")

    def repr_failure(self, excinfo):
        return str(excinfo.value)

    def reportinfo(self):
        return self.path, self.line_offset, f"{self.path.name}::{self.name}"
