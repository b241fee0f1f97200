"""The messages of the open conversation as a Qt item model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QByteArray, QModelIndex, Qt

from app.core.stats_text import describe_stats
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
    message_id: int | None = None         # None until stored
    sibling_ids: tuple[int, ...] = ()     # the versions of this message, oldest first

    @property
    def version(self) -> tuple[int, int]:
        """(number of this version, how many versions), e.g. (2, 3)."""
        if self.message_id is None or self.message_id not in self.sibling_ids:
            return (1, 1)
        return (self.sibling_ids.index(self.message_id) + 1, len(self.sibling_ids))


def row_from_stored(message: StoredMessage) -> MessageRow:
    """A view row for a message read from the database."""
    return MessageRow(role=message.role, text=message.content, status=message.status,
                      error=message.error,
                      details=describe_stats(message) if message.role == "assistant" else "",
                      message_id=message.id, sibling_ids=message.sibling_ids)


PAGE = 50  # messages read at a time: a long chat is read from its end, on demand


class MessageListModel(RowListModel[MessageRow]):
    """The active path of a conversation, read lazily from its end.

    ``show_path`` takes the path's message ids and reads only the last page; scrolling up
    calls ``load_older``, which reads the page before (not Qt's fetchMore: views call that
    when scrolled to the *bottom*). The last row grows while a reply streams.
    """

    RoleRole = Qt.ItemDataRole.UserRole + 1
    StatusRole = Qt.ItemDataRole.UserRole + 2
    ErrorRole = Qt.ItemDataRole.UserRole + 3
    DetailsRole = Qt.ItemDataRole.UserRole + 4
    IdRole = Qt.ItemDataRole.UserRole + 5
    VersionRole = Qt.ItemDataRole.UserRole + 6   # (n, of) tuple

    def __init__(self, parent: Any = None,
                 read: Callable[[list[int]], list[StoredMessage]] | None = None) -> None:
        super().__init__(parent)
        self._read = read or (lambda ids: [])
        self._unread: list[int] = []   # ids of older path messages not read yet

    def show_path(self, ids: list[int]) -> None:
        """Show the path with these message ids (reads only its last page)."""
        self._unread, page = ids[:-PAGE], ids[-PAGE:]
        self._reset([row_from_stored(m) for m in self._read(page)])

    def has_older(self) -> bool:
        """True if older messages of the path are not read yet."""
        return bool(self._unread)

    def load_older(self) -> None:
        """Read the page of messages before the first one shown."""
        if not self._unread:
            return
        page, self._unread = self._unread[-PAGE:], self._unread[:-PAGE]
        rows = [row_from_stored(m) for m in self._read(page)]
        self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
        self._rows[:0] = rows
        self.endInsertRows()

    def find(self, message_id: int) -> int | None:
        """The row of a message, reading older pages until it is found (None: not here)."""
        while True:
            row = next((i for i, r in enumerate(self._rows) if r.message_id == message_id),
                       None)
            if row is not None or not self._unread:
                return row
            if message_id not in self._unread:
                return None
            self.load_older()

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

    def rows(self) -> list[MessageRow]:
        """The rows shown (a copy)."""
        return list(self._rows)

    def set_rows(self, rows: list[MessageRow]) -> None:
        """Show exactly these rows (keeps the unread older pages)."""
        self._reset(list(rows))

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
        if role == self.IdRole:
            return row.message_id
        if role == self.VersionRole:
            return row.version
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = {Qt.ItemDataRole.DisplayRole: b"text", self.RoleRole: b"role",
                self.StatusRole: b"status", self.ErrorRole: b"error",
                self.DetailsRole: b"details", self.IdRole: b"messageId",
                self.VersionRole: b"version"}
        return {role: QByteArray(name) for role, name in names.items()}
