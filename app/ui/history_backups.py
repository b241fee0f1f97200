"""The history's upgrade backups as the user sees them: named when chats are deleted,
listed, kept to a number, deleted on request.

Backups (``storage.backups``) are made before each upgrade of the history database and
hold every chat as it was then. Deleting a chat cannot reach inside them, so the delete
confirmation says how many there are and where, and offers to delete them with the chat.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.settings import SCHEMA, Settings
from app.core.units import human_size
from app.storage.backups import is_failed_upgrade, list_backups, prune_backups, remove_backups

DELETE = "delete"                    # delete the chats; the backups stay
DELETE_WITH_BACKUPS = "delete+backups"


def backups_note(database_path: Path, it: str = "it") -> str:
    """A sentence saying which backups still hold deleted chats ("" when there are none)."""
    copies = list_backups(database_path)
    if not copies:
        return ""
    count = (f"{len(copies)} backup copies of your history" if len(copies) > 1
             else "A backup copy of your history")
    hold = "still hold" if len(copies) > 1 else "still holds"
    return (f"{count}, made before Hearth upgrades, {hold} {it}: "
            f"{', '.join(copy.name for copy in copies)} in {database_path.parent}. "
            "They are only needed to go back if an upgrade went wrong.")


def confirm_deletion(parent: QWidget, title: str, question: str, database_path: Path | None,
                     it: str = "it") -> str | None:
    """Ask before deleting chats: ``DELETE``, ``DELETE_WITH_BACKUPS`` or None (cancelled).

    Without backups this is a plain yes/no question; with them the user also chooses
    whether the backups go too (the default: what "delete" promises).
    """
    note = backups_note(database_path, it) if database_path is not None else ""
    if not note:
        answer = QMessageBox.question(parent, title, question)
        return DELETE if answer == QMessageBox.StandardButton.Yes else None
    box = QMessageBox(QMessageBox.Icon.Question, title, f"{question}\n\n{note}",
                      QMessageBox.StandardButton.Cancel, parent)
    with_backups = box.addButton("Delete, with the backups",
                                 QMessageBox.ButtonRole.DestructiveRole)
    without = box.addButton("Delete, keep the backups", QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(with_backups)
    box.exec()
    answers: dict[QAbstractButton | None, str] = {with_backups: DELETE_WITH_BACKUPS,
                                                  without: DELETE}
    return answers.get(box.clickedButton())


class HistoryBackupsDialog(QDialog):
    """Lists the backups, sets how many are kept after an upgrade, deletes them all."""

    def __init__(self, settings: Settings, database_path: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("History backups")
        self._settings = settings
        self._path = database_path
        intro = QLabel(f"Before Hearth upgrades its history database, it keeps a copy of it "
                       f"in {database_path.parent}. A copy holds every chat as it was then, "
                       "deleted chats too. A copy from an upgrade that failed is kept until "
                       "you delete it.")
        intro.setWordWrap(True)
        self.list = QListWidget()
        spec = SCHEMA["keep_history_backups"]
        assert spec.minimum is not None and spec.maximum is not None  # the schema gives both
        self.keep = QSpinBox()
        self.keep.setRange(int(spec.minimum), int(spec.maximum))
        self.keep.setValue(settings.get("keep_history_backups"))
        self.keep.setToolTip(spec.doc)
        form = QFormLayout()
        form.addRow("Keep after a successful upgrade:", self.keep)
        self.delete_button = QPushButton("Delete all backups now")
        self.delete_button.clicked.connect(self.delete_all)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.delete_button)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(560, 360)
        self.refresh()

    def refresh(self) -> None:
        """List the backups as they are on disk now."""
        self.list.clear()
        copies = list_backups(self._path)
        for copy in copies:
            stat = copy.stat()
            made = time.strftime("%Y-%m-%d %H:%M", time.localtime(stat.st_mtime))
            failed = " · before an upgrade that failed" if is_failed_upgrade(copy) else ""
            self.list.addItem(f"{copy.name} · {made} · {human_size(stat.st_size)}{failed}")
        if not copies:
            self.list.addItem("No backups.")
        self.delete_button.setEnabled(bool(copies))

    def delete_all(self) -> None:
        """Delete every backup now (no undo)."""
        remove_backups(self._path)
        self.refresh()

    def accept(self) -> None:
        """Save the count and delete the backups beyond it."""
        self._settings.set("keep_history_backups", self.keep.value())
        prune_backups(self._path, self.keep.value())
        super().accept()
