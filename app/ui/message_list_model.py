"""The messages of the open conversation as a Qt item model."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QModelIndex, Qt

from app.core.protocol import ReplyStats
from app.storage.history import StoredMessage
from app.storage.schema import MessageStatus
from app.ui.row_list_model import Index, RowListModel


@dataclass(frozen=True)
class MessageRow:
    """What the chat view shows of one message."""

    role: str
    text: str
    status: str = MessageStatus.COMPLETE
    error: str | None = None
    details: str = ""


def describe_stats(stats: ReplyStats | StoredMessage) -> str:
    """A one-line summary of a reply's statistics, e.g. '42 tokens · 108 tok/s'."""
    parts = []
    if stats.completion_tokens:
        parts.append(f"{stats.completion_tokens} tokens")
    if stats.tokens_per_second:
        parts.append(f"{stats.tokens_per_second:.0f} tok/s")
    if stats.ttft_s is not None:
        parts.append(f"first token {stats.ttft_s:.2f} s")
    if stats.n_ctx:
        parts.append(f"context {stats.context_used}/{stats.n_ctx}")
    if getattr(stats, "dropped_messages", 0):
        parts.append(f"{stats.dropped_messages} older messages left out")
    return " · ".join(parts)


def row_from_stored(message: StoredMessage) -> MessageRow:
    """A view row for a message read from the database."""
    return MessageRow(role=message.role, text=message.content, status=message.status,
                      error=message.error,
                      details=describe_stats(message) if message.role == "assistant" else "")


class MessageListModel(RowListModel[MessageRow]):
    """Messages in order; the last row grows while a reply streams."""

    RoleRole = Qt.ItemDataRole.UserRole + 1
    StatusRole = Qt.ItemDataRole.UserRole + 2
    ErrorRole = Qt.ItemDataRole.UserRole + 3
    DetailsRole = Qt.ItemDataRole.UserRole + 4

    def set_messages(self, messages: list[StoredMessage]) -> None:
        """Show these messages instead of the current ones."""
        self._reset([row_from_stored(m) for m in messages])

    def append(self, row: MessageRow) -> int:
        """Add a row at the end; return its number."""
        position = len(self._rows)
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows.append(row)
        self.endInsertRows()
        return position

    def update(self, position: int, **changes: Any) -> None:
        """Change fields of a row (e.g. ``text=...``, ``status=...``)."""
        self._rows[position] = replace(self._rows[position], **changes)
        index = self.index(position)
        self.dataChanged.emit(index, index)

    def append_text(self, position: int, text: str) -> None:
        """Add streamed text to a row."""
        self.update(position, text=self._rows[position].text + text)

    def row(self, position: int) -> MessageRow:
        """The row at ``position``."""
        return self._rows[position]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self._row_at(index)
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return row.text
        if role == self.RoleRole:
            return row.role
        if role == self.StatusRole:
            return row.status
        if role == self.ErrorRole:
            return row.error
        if role == self.DetailsRole:
            return row.details
        return None

    def roleNames(self) -> dict[int, bytes]:
        return {Qt.ItemDataRole.DisplayRole: b"text", self.RoleRole: b"role",
                self.StatusRole: b"status", self.ErrorRole: b"error",
                self.DetailsRole: b"details"}
