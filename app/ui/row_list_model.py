"""Bases of the app's item models: a Python list of rows, shown as a flat list or a table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractListModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

Index = QModelIndex | QPersistentModelIndex
Row = TypeVar("Row")


if TYPE_CHECKING:  # the mixin is only ever mixed into a Qt item model, which gives it Qt's API
    _ItemModel = QAbstractItemModel
else:
    class _ItemModel:
        """Nothing at run time: the Qt class mixed in after ``_Rows`` gives Qt's API."""


class _Rows(_ItemModel, Generic[Row]):
    """The rows of a model (a mixin for a Qt item model class)."""

    _rows: list[Row]

    def _reset(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def _row_at(self, index: Index) -> Row | None:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return self._rows[index.row()]

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)


class RowListModel(_Rows[Row], QAbstractListModel):
    """Holds ``_rows``; subclasses map a row to roles in ``data``."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows = []


class RowTableModel(_Rows[Row], QAbstractTableModel):
    """Holds ``_rows`` under ``columns`` (titles); subclasses map cells in ``data``."""

    columns: tuple[str, ...] = ()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows = []

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(self.columns)):
            return self.columns[section]
        return None
