"""Importing a file of chats without holding up the window.

The file is read, decoded and checked on the background pool (a large ChatGPT export takes
seconds to parse). Its conversations are then stored on the GUI thread, which owns the
database: one short transaction per conversation, as many as fit in about 20 ms per turn of
the event loop, so the window keeps answering and a reply being saved meanwhile never waits
on an import's write lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.errors import HearthError
from app.storage.history import History
from app.storage.importing import ImportResult, ImportWriter, ParsedChat
from app.ui.background import BackgroundOp

STEP_S = 0.02  # GUI time spent storing per event-loop turn
FileReader = Callable[[Path, threading.Event], list[ParsedChat]]
_running: set[ChatImport] = set()  # kept alive until they end


class ChatImport(QObject):
    """One import of one file: ``start()``, then one of the signals.

    Signals:
        progressed(int, int): chats dealt with so far, of how many in the file.
        finished(object): the ImportResult, once every chat of the file was stored.
        failed(object): the HearthError that stopped the import (chats stored before stay).
    """

    progressed = Signal(int, int)
    finished = Signal(object)
    failed = Signal(object)

    def __init__(self, history: History, path: Path, read: FileReader,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._history, self._path, self._read = history, path, read
        self._cancel = threading.Event()
        self._writer: ImportWriter | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._store_some)

    def start(self) -> ChatImport:
        """Read the file in the background; storing follows on this thread."""
        _running.add(self)
        BackgroundOp[list[ParsedChat]](self._read, self._path, self._cancel) \
            .with_cancel(self._cancel) \
            .success(self._parsed) \
            .failure(self._failed) \
            .run_in_background()
        return self

    def cancel(self) -> None:
        """Stop after the chat being stored (those stored stay, each complete)."""
        self._cancel.set()

    @property
    def result(self) -> ImportResult | None:
        """What was stored so far (None while the file is being read)."""
        return self._writer.result if self._writer is not None else None

    def _parsed(self, chats: list[ParsedChat]) -> None:
        self._writer = ImportWriter(self._history, chats)
        self._timer.start()

    def _store_some(self) -> None:
        writer = self._writer
        assert writer is not None  # the timer starts once the file was read
        deadline = time.monotonic() + STEP_S
        try:
            more = not self._cancel.is_set()
            while more and time.monotonic() < deadline:
                more = writer.store_next()
        except BaseException as exc:  # a bug: _failed raises it again
            self._failed(exc)
            return
        self.progressed.emit(writer.done, writer.total)
        if not more:
            self._timer.stop()
            _running.discard(self)
            self.finished.emit(writer.result)

    def _failed(self, error: BaseException) -> None:
        self._timer.stop()
        _running.discard(self)
        if not isinstance(error, HearthError):
            raise error
        self.failed.emit(error)
