"""What Hearth is made of and under which licences: for the About dialog and the bundle.

Python packages are read from their own metadata (the bundle carries it), walking the
requirements from ``hearth``; the rest (llama.cpp, Qt, the starter model, Python) is listed
in ``resources/licenses/components.json`` beside the licence texts.
"""

from __future__ import annotations

import email.message
import json
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import cast

from app.core import bundle

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Component:
    """One bundled part: what it is, its version (if known) and its licence."""

    name: str
    licence: str
    role: str = ""
    version: str = ""
    text: Path | None = None  # the licence's text, where one is shipped


def licences_dir() -> Path:
    """The folder of licence texts (``resources/licenses``)."""
    return bundle.resources_dir() / "licenses"


def components() -> list[Component]:
    """Everything listed in ``components.json`` (empty if the file is missing or damaged)."""
    folder = licences_dir()
    try:
        data = json.loads((folder / "components.json").read_text(encoding="utf-8"))
        entries = data["components"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    found = []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") and entry.get("licence"):
            text = folder / str(entry["file"]) if entry.get("file") else None
            found.append(Component(name=str(entry["name"]), licence=str(entry["licence"]),
                                   role=str(entry.get("role", "")),
                                   text=text if text is not None and text.is_file() else None))
    return found


def python_packages(root: str = "hearth") -> list[Component]:
    """The Python distributions ``root`` needs (at run time), with their declared licences."""
    seen: dict[str, Component] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        key = _canonical(name)
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[key] = Component(name=dist.metadata["Name"] or name, version=dist.version,
                              licence=_licence(dist))
        for requirement in dist.requires or ():
            if "extra ==" in requirement:
                continue  # optional parts (test tools) are not shipped
            match = _NAME.match(requirement)
            if match:
                todo.append(match.group(0))
    seen.pop(_canonical(root), None)
    return sorted(seen.values(), key=lambda c: c.name.casefold())


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _licence(dist: metadata.Distribution) -> str:
    meta = cast("email.message.Message", dist.metadata)  # what it is at run time
    expression = meta.get("License-Expression")
    if expression:
        return str(expression)
    declared = meta.get("License") or ""
    if declared and len(declared) <= 60 and "\n" not in declared:
        return declared
    classifiers = [c.rsplit("::", 1)[-1].strip() for c in meta.get_all("Classifier") or []
                   if c.startswith("License ::")]
    return ", ".join(classifiers) or "see its metadata"
