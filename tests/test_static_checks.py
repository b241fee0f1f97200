"""The code passes ruff (lint and import order) and mypy, as configured in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", "--no-cache", "app", "tests", "benchmarks", "main.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_checks_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\ndef f(x: int) -> str:\n    return x\n")
    assert _run("ruff", "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"),
                str(bad)).returncode == 1                     # an unused import
    assert _run("mypy", "--config-file", str(ROOT / "pyproject.toml"),
                str(bad)).returncode == 1                     # int returned as str
