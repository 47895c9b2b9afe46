"""The README's commands and its custom-pass example work as written."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_quick_start_runs_on_the_bundled_example(tmp_path):
    line = next(ln.strip() for ln in README.splitlines() if ln.strip().startswith("pip install -e . && irc quantize"))
    steps = [s.strip() for s in line.split("&&")][1:]  # the install step is what this test runs under
    for step in steps:
        argv = shlex.split(step)
        argv = [str(ROOT / a) if a.startswith("examples/") else a for a in argv]
        r = subprocess.run([sys.executable, "-m", "irc.cli", *argv[1:]], cwd=tmp_path,
                           capture_output=True, text=True)
        assert r.returncode == 0, f"{step}\n{r.stderr}"
    assert "top1" in r.stdout
    assert (tmp_path / "digits_resnet.int8.onnx").exists()


def test_the_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pytest -n auto" in README and "pytest -n auto" in ci


def test_custom_pass_example(tmp_path):
    code = re.search(r"```python\n(from dataclasses import dataclass.*?)```", README, re.S).group(1)
    (tmp_path / "mypasses.py").write_text(code)
    ir = tmp_path / "m.ir"
    ir.write_text("func @main(%x: tensor<3xf32>) -> (tensor<3xf32>) {\n"
                  "  %a = identity(%x) : tensor<3xf32>\n  %y = relu(%a) : tensor<3xf32>\n  return %y\n}\n")
    r = subprocess.run([sys.executable, "-m", "irc.cli", "opt", "--load", str(tmp_path / "mypasses.py"),
                        "--pipeline=fold,drop-identity,dce", str(ir), "-o", str(tmp_path / "out.ir")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.ir").read_text() == (
        "func @main(%x: tensor<3xf32>) -> (tensor<3xf32>) {\n  %y = relu(%x) : tensor<3xf32>\n  return %y\n}\n")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    return README[start:README.index("\n## ", start + 1)]


def test_the_three_steps_run_as_written(tmp_path):
    """Every command of the section, and its Python snippet, verbatim in a fresh folder that
    sees the repository's examples/ (nothing else is there: calib.npz is made by the first line)."""
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    section = _section("The three steps, and the one command")
    commands = [ln.strip().split("  #")[0].strip() for ln in section.splitlines()
                if ln.startswith("    python -c ") or ln.startswith("    irc ")]
    assert commands[0].startswith("python -c") and len(commands) == 6
    for command in commands:
        argv = shlex.split(command)
        argv = [sys.executable, *argv[1:]] if argv[0] == "python" else [sys.executable, "-m", "irc.cli", *argv[1:]]
        r = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 0, f"{command}\n{r.stderr}"
    assert {"model.ir", "model.weights.npz", "model.q.ir", "model.int8.onnx", "digits_ssd.int8.onnx"} <= {
        p.name for p in tmp_path.iterdir()}
    (tmp_path / "model.int8.onnx").unlink()
    snippet = re.search(r"```python\n(import irc\n.*?)```", section, re.S).group(1)
    r = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "model size" in r.stdout and (tmp_path / "model.int8.onnx").exists()
