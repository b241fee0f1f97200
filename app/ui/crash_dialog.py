"""Bugs reach the user as a dialog with the traceback, and the log."""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox

from app.core.errors import HearthError

log = logging.getLogger(__name__)


def _excepthook(kind: type[BaseException], error: BaseException,
                tb: TracebackType | None) -> None:
    if isinstance(error, HearthError):  # a known error that escaped: no traceback needed
        log.warning("Unhandled known error: %s", error)
        QMessageBox.warning(QApplication.activeWindow(), "Hearth", str(error))
        return
    text = "".join(traceback.format_exception(kind, error, tb))
    log.error("Unexpected error:\n%s", text)
    box = QMessageBox(QMessageBox.Icon.Critical, "Hearth hit a bug",
                      "Something went wrong inside Hearth. Your chats are saved; you can "
                      "keep working, or restart the app.\n\nThe details below are also in "
                      "the log file.", parent=QApplication.activeWindow())
    box.setDetailedText(text)
    box.exec()


def install() -> None:
    """Route uncaught exceptions on the GUI thread to the crash dialog."""
    sys.excepthook = _excepthook
