"""mypy runs clean over the installed package (its settings: [tool.mypy] in pyproject.toml; how
the package is laid out for it: scripts/typecheck.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_is_clean():
    # the script checks from a fresh temporary folder, so mypy's cache starts empty there
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "typecheck.py")],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
