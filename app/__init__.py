"""Hearth: offline, private chat with small language models."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

APP_NAME = "Hearth"


def _version() -> str:
    """The one version number: ``pyproject.toml``'s in a checkout, else the installed one's."""
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        with pyproject.open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        pass
    try:
        return metadata.version("hearth")  # a bundle carries the installed package's metadata
    except metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _version()
