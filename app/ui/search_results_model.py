"""Results of a full-text search as a Qt item model."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, Qt

from app.storage.history import History
from app.storage.search import SearchHit, search, snippet_html, snippet_text
from app.ui.row_list_model import Index, RowListModel

RESULT_LIMIT = 50


class SearchResultsModel(RowListModel[SearchHit]):
    """Messages matching the last search, newest first.

    ``DisplayRole`` is the snippet as plain text; ``SnippetHtmlRole`` the same with the
    matches in ``<b>``, safe to show as rich text.
    """

    TitleRole = Qt.ItemDataRole.UserRole + 1
    SnippetHtmlRole = Qt.ItemDataRole.UserRole + 2
    ConversationIdRole = Qt.ItemDataRole.UserRole + 3
    MessageIdRole = Qt.ItemDataRole.UserRole + 4
    RoleRole = Qt.ItemDataRole.UserRole + 5
    CreatedAtRole = Qt.ItemDataRole.UserRole + 6

    def __init__(self, history: History, parent: Any = None) -> None:
        super().__init__(parent)
        self._history = history

    def search(self, text: str) -> None:
        """Show the messages matching ``text`` (any text is accepted)."""
        self._reset(search(self._history, text, RESULT_LIMIT))

    def clear(self) -> None:
        """Show nothing."""
        self._reset([])

    def hit(self, row: int) -> SearchHit | None:
        """The result in ``row``, if any."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, message_id: int) -> int | None:
        """The row showing ``message_id``, if listed."""
        return next((i for i, h in enumerate(self._rows) if h.message_id == message_id), None)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        hit = self._row_at(index)
        if hit is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return snippet_text(hit.snippet)
        if role in (self.TitleRole, Qt.ItemDataRole.ToolTipRole):
            return hit.conversation_title
        if role == self.SnippetHtmlRole:
            return snippet_html(hit.snippet)
        if role == self.ConversationIdRole:
            return hit.conversation_id
        if role == self.MessageIdRole:
            return hit.message_id
        if role == self.RoleRole:
            return hit.role
        if role == self.CreatedAtRole:
            return hit.created_at
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = {Qt.ItemDataRole.DisplayRole: b"text", self.TitleRole: b"title",
                self.SnippetHtmlRole: b"snippetHtml", self.ConversationIdRole: b"conversationId",
                self.MessageIdRole: b"messageId", self.RoleRole: b"role",
                self.CreatedAtRole: b"createdAt"}
        return {role: QByteArray(name) for role, name in names.items()}
