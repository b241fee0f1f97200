"""The model library as a table: what each file is, its size, and whether it fits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor

from app.core.fit import Fit
from app.core.library import LibraryModel
from app.core.units import human_size
from app.ui.model_details import parameter_label
from app.ui.row_list_model import Index, RowTableModel

COLUMNS = ("Name", "Size", "Quant", "Context", "File", "Memory", "Fit", "Where")
_FIT_COLOURS = {"fits": "#2e7d32", "tight": "#b26a00", "too big": "#c62828"}
_SOURCES = {"library": "Library", "builtin": "Built in",
            "folder": "Linked folder", "file": "Linked file"}


class LibraryTableModel(RowTableModel[tuple[LibraryModel, "Fit | None"]]):
    """One row per model; unreadable files are rows too, with the reason in the Fit column.

    ``ModelRole`` gives the LibraryModel, ``PathRole`` its path as a string.
    """

    ModelRole = Qt.ItemDataRole.UserRole + 1
    PathRole = Qt.ItemDataRole.UserRole + 2
    columns = COLUMNS

    def __init__(self, assess: Callable[[LibraryModel], Fit | None],
                 parent: Any = None) -> None:
        super().__init__(parent)
        self._assess = assess

    def set_models(self, models: list[LibraryModel]) -> None:
        """Show these models, assessing each one's fit again."""
        self._reset(self._assessed(models))

    def refit(self) -> None:
        """Assess every model again (the context length or free memory changed).

        The rows stay (and so does the view's selection); only their cells change.
        """
        self._rows = self._assessed([model for model, _fit in self._rows])
        if self._rows:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._rows) - 1, len(COLUMNS) - 1))

    def _assessed(self, models: list[LibraryModel]) -> list[tuple[LibraryModel, Fit | None]]:
        return [(m, self._assess(m) if m.info is not None else None) for m in models]

    def model_at(self, row: int) -> LibraryModel | None:
        """The model in ``row``, if any."""
        return self._rows[row][0] if 0 <= row < len(self._rows) else None

    def fit_at(self, row: int) -> Fit | None:
        """The fit of the model in ``row``, if it is readable."""
        return self._rows[row][1] if 0 <= row < len(self._rows) else None

    def row_of(self, path: str) -> int | None:
        """The row of the model at ``path``."""
        return next((i for i, (m, _f) in enumerate(self._rows) if str(m.path) == path), None)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self._row_at(index)
        if row is None:
            return None
        model, fit = row
        column = COLUMNS[index.column()]
        if role == self.ModelRole:
            return model
        if role == self.PathRole:
            return str(model.path)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(model, fit, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if model.error:
                return model.error
            return fit.text if column in ("Memory", "Fit") and fit else str(model.path)
        if role == Qt.ItemDataRole.ForegroundRole and column == "Fit":
            colour = "#c62828" if model.error else _FIT_COLOURS.get(fit.label if fit else "")
            return QBrush(QColor(colour)) if colour else None
        return None

    @staticmethod
    def _text(model: LibraryModel, fit: Fit | None, column: str) -> str:
        info = model.info
        if column == "Name":
            return model.name
        if column == "File":
            return human_size(model.size)
        if column == "Where":
            return _SOURCES.get(model.source, model.source)
        if column == "Fit":
            return "unusable" if model.error else (fit.label if fit else "")
        if info is None:
            return ""
        if column == "Size":
            return parameter_label(info)
        if column == "Quant":
            return info.quantization
        if column == "Context":
            return f"{info.context_length:,}" if info.context_length else "?"
        if column == "Memory":
            return human_size(fit.need) if fit else ""
        return ""
