"""Hearth's icon, from ``resources/icons`` (the SVG and its PNG renderings)."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from app.core import bundle


@cache
def app_icon() -> QIcon:
    """The app icon at every size it is drawn in (the PNGs; the SVG scales beyond them)."""
    icons = bundle.resources_dir() / "icons"
    icon = QIcon(str(icons / "hearth.svg"))
    for png in sorted(icons.glob("hearth-*.png")):  # the sizes scripts/render_icons made
        icon.addFile(str(png))
    return icon
