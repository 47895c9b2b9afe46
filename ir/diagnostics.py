"""Located errors: every problem found in a text file names file:line:col and shows the line."""

from __future__ import annotations


class IRError(Exception):
    """An error the user caused (bad input); the CLI prints it and exits with code 2."""


class SourceError(IRError):
    """An error at a place in a source text."""

    def __init__(self, message: str, filename: str, text: str, line: int, column: int) -> None:
        self.message = message
        self.filename = filename
        self.line = line
        self.column = column
        lines = text.splitlines()
        self.source_line = lines[line - 1] if 0 < line <= len(lines) else ""
        super().__init__(self.format())

    def format(self) -> str:
        caret = " " * (max(self.column, 1) - 1) + "^"
        return (f"{self.filename}:{self.line}:{self.column}: error: {self.message}\n"
                f"  {self.source_line}\n  {caret}")
