"""Hearth's icon, from ``resources/icons`` (the SVG and its PNG renderings)."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from app.core import bundle

PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


@cache
def app_icon() -> QIcon:
    """The app icon at every size it is drawn in (the PNGs; the SVG scales beyond them)."""
    icons = bundle.resources_dir() / "icons"
    icon = QIcon(str(icons / "hearth.svg"))
    for size in PNG_SIZES:
        png = icons / f"hearth-{size}.png"
        if png.is_file():
            icon.addFile(str(png))
    return icon
