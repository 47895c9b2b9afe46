"""Located errors: every problem found in a text file names file:line:col and shows the line."""

from __future__ import annotations


class IRError(Exception):
    """An error the user caused (bad input); the CLI prints it and exits with code 2."""


SHOWN_WIDTH = 100
"""Longer source lines are shown as a window of this many characters around the column."""

_DISPLAY = {c: "?" for c in [*range(0x20), 0x7F]} | {0x09: " "}
"""Control characters of a shown line become one printable character each (the caret stays put)."""


class SourceError(IRError):
    """An error at a place in a source text. Lines are counted at '\\n', as the parser counts them."""

    def __init__(self, message: str, filename: str, text: str, line: int, column: int) -> None:
        self.message = message
        self.filename = filename
        self.line = line
        self.column = column
        lines = text.split("\n")
        self.source_line = lines[line - 1] if 0 < line <= len(lines) else ""
        super().__init__(self.format())

    def format(self) -> str:
        shown, col = self.source_line, max(self.column, 1)
        if len(shown) > SHOWN_WIDTH:
            start = max(0, min(col - 1 - SHOWN_WIDTH // 2, len(shown) - SHOWN_WIDTH))
            head = "..." if start else ""
            tail = "..." if start + SHOWN_WIDTH < len(shown) else ""
            shown = head + shown[start:start + SHOWN_WIDTH] + tail
            col += len(head) - start
        caret = " " * (col - 1) + "^"
        return (f"{self.filename}:{self.line}:{self.column}: error: {self.message}\n"
                f"  {shown.translate(_DISPLAY)}\n  {caret}")
