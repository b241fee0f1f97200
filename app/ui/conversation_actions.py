"""What can be done to conversations from the list: rename, pin, delete with undo."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QPushButton,
    QWidget,
)

from app.storage.backups import list_backups, remove_backups
from app.storage.history import History
from app.ui.chat_controller import ChatController
from app.ui.conversation_list_model import ConversationListModel
from app.ui.history_backups import DELETE_WITH_BACKUPS, HistoryBackupsDialog, confirm_deletion

UNDO_MS = 10_000  # how long a deletion can be undone before it is purged from disk


class UndoBar(QWidget):
    """"Chat deleted · Undo", shown in the status bar while a deletion can be undone."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.button = QPushButton("Undo")
        self.button.setFlat(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.button)
        self.hide()


class ConversationActions(QObject):
    """Rename, pin, delete (undoable, then purged for good) and delete all.

    The history's upgrade backups (at ``database_path``) still hold deleted chats, so
    deleting says so and offers to delete them too (``history_backups``).

    Signals:
        changed(): the list of conversations changed.
    """

    changed = Signal()

    def __init__(self, history: History, chat: ChatController, view: QListView,
                 model: ConversationListModel, undo_bar: UndoBar,
                 database_path: Path | None = None) -> None:
        super().__init__(view)
        self._history = history
        self._database_path = database_path
        self._chat = chat
        self._view = view
        self._model = model
        self._undo_bar = undo_bar
        self._undoable: list[int] = []
        self._purge = QTimer(self)
        self._purge.setSingleShot(True)
        self._purge.setInterval(UNDO_MS)
        self._purge.timeout.connect(self.purge)
        undo_bar.button.clicked.connect(self.undo)
        self.rename_action = self._action("Rename…", self.rename, QKeySequence(Qt.Key.Key_F2))
        self.pin_action = self._action("Pin / unpin", self.toggle_pin)
        self.delete_action = self._action("Delete", self.delete,
                                          QKeySequence(QKeySequence.StandardKey.Delete))
        self.delete_all_action = self._action("Delete all chats…", self.delete_all)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for action in (self.rename_action, self.pin_action, self.delete_action):
            view.addAction(action)

    def _action(self, text: str, slot: object, shortcut: QKeySequence | None = None
                ) -> QAction:
        action = QAction(text, self._view)
        if shortcut is not None:
            action.setShortcut(shortcut)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        action.triggered.connect(slot)
        return action

    def _selected(self) -> int | None:
        index = self._view.currentIndex()
        if index.isValid():
            return index.data(ConversationListModel.IdRole)
        return self._chat.conversation_id

    def rename(self) -> None:
        """Ask for a new title for the selected chat."""
        conversation_id = self._selected()
        info = self._history.conversation(conversation_id) if conversation_id else None
        if info is None:
            return
        title, ok = QInputDialog.getText(self._view, "Rename chat", "Title:", text=info.title)
        if ok and title.strip():
            self._history.rename(info.id, title)
            self.changed.emit()

    def toggle_pin(self) -> None:
        """Pin the selected chat to the top, or unpin it."""
        conversation_id = self._selected()
        info = self._history.conversation(conversation_id) if conversation_id else None
        if info is not None:
            self._history.set_pinned(info.id, not info.pinned)
            self.changed.emit()

    def delete(self) -> None:
        """Delete the selected chat after confirmation; undoable for a few seconds."""
        conversation_id = self._selected()
        if conversation_id is None:
            return
        answer = confirm_deletion(self._view, "Delete chat",
                                  "Delete this chat and all its messages?", self._database_path)
        if answer is not None:
            self._chat.delete_conversation(conversation_id)
            self._offer_undo([conversation_id], "Chat deleted." + self._backups_gone(answer))

    def delete_all(self) -> None:
        """Delete every chat after confirmation; undoable for a few seconds."""
        ids = [c.id for c in self._history.conversations()]
        if not ids:
            return
        answer = confirm_deletion(
            self._view, "Delete all chats",
            f"Delete all {len(ids)} chats and every message in them?", self._database_path,
            it="them")
        if answer is not None:
            self._chat.delete_all_conversations()  # one transaction, one list reload
            self._offer_undo(ids, f"{len(ids)} chats deleted." + self._backups_gone(answer))

    def edit_backups(self) -> HistoryBackupsDialog | None:
        """Show the history's upgrade backups and how many are kept (returns the dialog)."""
        if self._database_path is None:
            return None
        dialog = HistoryBackupsDialog(self._chat.settings, self._database_path,
                                      self._view.window())
        dialog.open()
        return dialog

    def _backups_gone(self, answer: str) -> str:
        """Delete the upgrade backups when the user chose so (at once: they have no undo);
        return what to add to the undo bar's text."""
        if answer != DELETE_WITH_BACKUPS or self._database_path is None:
            return ""
        remove_backups(self._database_path)
        left = len(list_backups(self._database_path))
        return f" {left} history backup(s) could not be deleted (see the log)." if left \
            else " The history's backups were deleted too."

    def _offer_undo(self, ids: list[int], text: str) -> None:
        self._undoable += ids
        self._undo_bar.label.setText(text)
        self._undo_bar.show()
        self._purge.start()
        self.changed.emit()

    def undo(self) -> None:
        """Bring back what was deleted last (until it is purged)."""
        for conversation_id in self._undoable:
            self._history.restore_conversation(conversation_id)
        self._undoable = []
        self._purge.stop()
        self._undo_bar.hide()
        self.changed.emit()

    def purge(self) -> None:
        """Remove deleted chats from disk for good (no undo after this)."""
        self._purge.stop()
        self._undoable = []
        self._undo_bar.hide()
        keys = self._history.deleted_cache_keys()
        self._history.purge_deleted()
        self._chat.bridge.client.forget(keys)   # their saved states, on disk and in engines
