"""Where the running Hearth's own files are: a source checkout, or a frozen (PyInstaller) bundle.

A bundle is read-only for the app: it carries the resources, the built-in models (the starter
model) and a note of how it was built, and nothing is ever written inside it. Everything the
user makes goes to the profile (``paths.py``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

BUILTIN_MODELS_ENV = "HEARTH_BUILTIN_MODELS"  # a folder used as the built-in library (tests)
BUILD_INFO_FILE = "build-info.json"
DESKTOP_ID = "io.github.hearth.Hearth"  # the desktop entry's name, without ".desktop"


def is_frozen() -> bool:
    """Whether this is a PyInstaller bundle (not Python running the source)."""
    return bool(getattr(sys, "frozen", False))


def root() -> Path:
    """The folder holding ``app/``'s data: the bundle's ``_internal``, or the checkout."""
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    return Path(__file__).resolve().parents[2]


def resources_dir() -> Path:
    """Icons, licences, style sheets (``resources/``)."""
    return root() / "resources"


def builtin_models_dir() -> Path | None:
    """The read-only library shipped with the app, if there is one.

    The bundle's ``models/`` folder; ``HEARTH_BUILTIN_MODELS`` names another (a test, or a
    distribution that installs models beside the app). A source checkout has none.
    """
    override = os.environ.get(BUILTIN_MODELS_ENV)
    if override:
        return Path(override).expanduser().resolve()
    folder = root() / "models"
    return folder if is_frozen() and folder.is_dir() else None


def build_info() -> dict[str, Any]:
    """How this bundle was built (``build-info.json``: llama.cpp flags, CPU baseline…).

    Empty for a source checkout, or when the file cannot be read.
    """
    try:
        data = json.loads((root() / BUILD_INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def external_program_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for programs that are not part of Hearth (a browser, a file manager).

    A frozen app's bootloader points ``LD_LIBRARY_PATH`` at the bundle, and a system program
    started with it would load the bundle's libraries instead of its own; PyInstaller keeps
    the user's value in ``LD_LIBRARY_PATH_ORIG``.
    """
    env = dict(os.environ if environ is None else environ)
    if "LD_LIBRARY_PATH_ORIG" in env:
        env["LD_LIBRARY_PATH"] = env.pop("LD_LIBRARY_PATH_ORIG")
    elif is_frozen():
        env.pop("LD_LIBRARY_PATH", None)
    return env


def restore_program_environment() -> None:
    """Give the process (so every program it starts) the user's ``LD_LIBRARY_PATH`` back.

    Safe once running: the dynamic loader read the variable when this process started, and
    the engine process, the same executable, gets the bundle's value from its bootloader.
    """
    if not is_frozen():
        return
    wanted = external_program_env()
    for name in ("LD_LIBRARY_PATH", "LD_LIBRARY_PATH_ORIG"):
        os.environ.pop(name, None)
    if "LD_LIBRARY_PATH" in wanted:
        os.environ["LD_LIBRARY_PATH"] = wanted["LD_LIBRARY_PATH"]
