"""The model library as a Qt item model (for the model picker)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from app.core.library import ModelEntry, ModelLibrary
from app.ui.row_list_model import Index, RowListModel


def _size(num_bytes: int) -> str:
    value = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


class ModelListModel(RowListModel[ModelEntry]):
    """Models in the library; ``PathRole`` gives the file path as a string."""

    PathRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, library: ModelLibrary, parent: Any = None) -> None:
        super().__init__(parent)
        self._library = library

    def reload(self) -> None:
        """Scan the library folder again."""
        self._reset(self._library.scan())

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        entry = self._row_at(index)
        if entry is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{entry.name}  ({_size(entry.size)})"
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(entry.path)
        if role == self.PathRole:
            return str(entry.path)
        return None

    def row_of(self, path: str) -> int | None:
        """The row of the model at ``path``, if it is in the library."""
        return next((i for i, e in enumerate(self._rows) if str(e.path) == path), None)
