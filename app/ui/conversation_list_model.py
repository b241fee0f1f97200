"""The conversation list as a Qt item model."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from app.storage.history import ConversationInfo, History
from app.ui.row_list_model import Index, RowListModel


class ConversationListModel(RowListModel[ConversationInfo]):
    """Conversations, most recent first; ``IdRole`` gives the database id."""

    IdRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, history: History, parent: Any = None) -> None:
        super().__init__(parent)
        self._history = history

    def reload(self) -> None:
        """Read the list again from the database."""
        self._reset(self._history.conversations())

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self._row_at(index)
        if row is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return row.title
        if role == self.IdRole:
            return row.id
        return None

    def roleNames(self) -> dict[int, bytes]:
        return {Qt.ItemDataRole.DisplayRole: b"title", self.IdRole: b"conversationId"}

    def conversation_id(self, row: int) -> int | None:
        """Database id of the conversation in ``row``."""
        return self._rows[row].id if 0 <= row < len(self._rows) else None

    def row_of(self, conversation_id: int) -> int | None:
        """The row showing ``conversation_id``, if listed."""
        return next((i for i, r in enumerate(self._rows) if r.id == conversation_id), None)
