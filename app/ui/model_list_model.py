"""The model library as a Qt item model (for the model picker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from app.core.library import LibraryModel, ModelLibrary
from app.core.units import human_size
from app.ui.row_list_model import Index, RowListModel


class ModelListModel(RowListModel[LibraryModel]):
    """Models in the library; ``PathRole`` gives the file path as a string.

    Files that cannot be used are listed but not selectable, with the reason as tooltip.
    """

    PathRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, library: ModelLibrary, parent: Any = None) -> None:
        super().__init__(parent)
        self._library = library

    def reload(self) -> None:
        """Scan the library again (cached metadata keeps this quick)."""
        self._reset(self._library.scan())

    def set_models(self, models: list[LibraryModel]) -> None:
        """Show the models of a scan made elsewhere (the window's LibraryScanner)."""
        self._reset(models)

    def entry(self, row: int) -> LibraryModel | None:
        """The library entry in ``row``."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def entry_with_part(self, path: str) -> LibraryModel | None:
        """The model that ``path`` is (a part of)."""
        return next((e for e in self._rows if Path(path) in e.parts), None)

    def usable_count(self) -> int:
        """How many listed models can be used (readable, complete GGUF files)."""
        return sum(1 for entry in self._rows if not entry.error)

    def flags(self, index: Index) -> Qt.ItemFlag:
        entry = self._row_at(index)
        if entry is not None and entry.error:
            return Qt.ItemFlag.NoItemFlags
        return super().flags(index)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        entry = self._row_at(index)
        if entry is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if entry.error:
                return f"{entry.name}  (cannot be used)"
            return f"{entry.name}  ({human_size(entry.size)})"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{entry.path}\n{entry.error}".strip()
        if role == self.PathRole:
            return str(entry.path)
        return None

    def row_of(self, path: str) -> int | None:
        """The row of the model at ``path``, if it is in the library."""
        return next((i for i, e in enumerate(self._rows) if str(e.path) == path), None)
