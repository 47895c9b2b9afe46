"""The package's folders are layers, and imports only go down.

    tools (the `irc` package root: API, CLI, data, bench)   may import anything
    passes                                                   may import ir
    backends                                                 may import ir
    ir                                                       imports nothing of irc but itself

Passes reach a backend only by name, through a registry (`irc.ir.evaluator.get_evaluator`:
"module:attribute" strings imported on first use), never by an import; so there is no import
cycle between the folders. Every import counts, a function-local one too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"ir": "ir", "passes": "passes", "backends": "backends", "tools": "tools"}
"""Top-level folder -> layer name; `tools` is installed as the `irc` package root."""

ALLOWED = {
    "ir": {"ir"},
    "passes": {"ir", "passes"},
    "backends": {"ir", "backends"},
    "tools": {"ir", "passes", "backends", "tools"},
}


def layer_of_module(module: str) -> str | None:
    """The layer of an absolute module name (None: not irc's)."""
    parts = module.split(".")
    if parts[0] != "irc":
        return None
    if len(parts) > 1 and parts[1] in ("ir", "passes", "backends"):
        return parts[1]
    return "tools"


def package_of(path: Path) -> list[str]:
    """The dotted package (as a list) that the module at `path` lives in."""
    rel = path.relative_to(ROOT).with_suffix("").parts
    folder, rest = rel[0], list(rel[1:-1])
    return ["irc"] + ([] if folder == "tools" else [folder]) + rest


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_of(path)
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # `from . import x`: x is a module of that package
                    found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
                    continue
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def package_files() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def test_the_folders_are_found():
    files = package_files()
    assert {p.relative_to(ROOT).parts[0] for p in files} == set(FOLDERS)
    assert len(files) > 100


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_imports_only_go_down(folder):
    wrong = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for line, module in imports_of(path):
            layer = layer_of_module(module)
            if layer is not None and layer not in ALLOWED[folder]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {folder} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_relative_imports_resolve_inside_the_package():
    """The resolution above is right: a relative import names a module that exists."""
    for path in package_files():
        for _, module in imports_of(path):
            if layer_of_module(module) is None:
                continue
            parts = module.split(".")[1:]
            if parts and parts[0] not in ("ir", "passes", "backends"):
                parts = ["tools"] + parts
            elif not parts:
                parts = ["tools"]
            target = ROOT.joinpath(*parts)
            assert target.with_suffix(".py").is_file() or (target / "__init__.py").is_file() \
                or target.parent.with_suffix(".py").is_file() or (target.parent / "__init__.py").is_file(), \
                f"{path.relative_to(ROOT)}: {module} does not resolve"
