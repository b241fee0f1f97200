"""The conversation list as a Qt item model, read a page at a time."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, QModelIndex, Qt

from app.storage.history import ConversationInfo, History
from app.ui.row_list_model import Index, RowListModel

PAGE = 200  # conversations read at a time; the view asks for more as it scrolls down


class ConversationListModel(RowListModel[ConversationInfo]):
    """Conversations, pinned first, then most recent; ``IdRole`` gives the database id.

    Only the first page is read on ``reload``; Qt's views call ``fetchMore`` when the user
    scrolls to the end, so a history of thousands of chats opens as fast as a short one.
    """

    IdRole = Qt.ItemDataRole.UserRole + 1
    PinnedRole = Qt.ItemDataRole.UserRole + 2

    def __init__(self, history: History, parent: Any = None) -> None:
        super().__init__(parent)
        self._history = history
        self._total = 0

    def reload(self) -> None:
        """Read the first pages again (as many rows as were shown before, at least one page)."""
        wanted = max(PAGE, len(self._rows))
        self._total = self._history.conversation_count()
        self._reset(self._history.conversations(limit=wanted))

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        return not parent.isValid() and len(self._rows) < self._total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        """Read the next page of conversations."""
        if not self.canFetchMore(parent):
            return
        more = self._history.conversations(limit=PAGE, offset=len(self._rows))
        if not more:
            self._total = len(self._rows)
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(more) - 1)
        self._rows.extend(more)
        self.endInsertRows()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self._row_at(index)
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return f"📌 {row.title}" if row.pinned else row.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.title
        if role == self.IdRole:
            return row.id
        if role == self.PinnedRole:
            return row.pinned
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = {Qt.ItemDataRole.DisplayRole: b"title", self.IdRole: b"conversationId",
                 self.PinnedRole: b"pinned"}
        return {role: QByteArray(name) for role, name in names.items()}

    def conversation_id(self, row: int) -> int | None:
        """Database id of the conversation in ``row``."""
        return self._rows[row].id if 0 <= row < len(self._rows) else None

    def row_of(self, conversation_id: int) -> int | None:
        """The row showing ``conversation_id``, if it is loaded."""
        return next((i for i, r in enumerate(self._rows) if r.id == conversation_id), None)
