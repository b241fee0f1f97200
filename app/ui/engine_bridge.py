"""Engine events as Qt signals on the GUI thread."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from app.core import protocol as p
from app.engine.client import EngineClient


class EngineBridge(QObject):
    """Wraps an EngineClient; re-emits its events, in order, on the GUI thread.

    Signals:
        event(object): every protocol event (Loaded, Delta, Done, Error).
        loaded(object): a p.Loaded event.
        delta(str, str): request id, text.
        done(str, object): request id, p.ReplyStats.
        error(str, str, str): request id, error code, message for the user.
    """

    # Public API. The stubs see it replacing QObject.event(); PySide overrides virtuals only
    # with methods, so Qt's own event() (queued calls, deleteLater) still runs.
    event = Signal(object)  # type: ignore[assignment]
    loaded = Signal(object)
    delta = Signal(str, str)
    done = Signal(str, object)
    error = Signal(str, str, str)
    _received = Signal(object)

    def __init__(self, parent: QObject | None = None, **client_options: Any) -> None:
        super().__init__(parent)
        # The client calls back on its reader thread; a queued connection hops to ours.
        self._received.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        self.client = EngineClient(self.post, **client_options)
        self.system_info = ""  # llama.cpp's build, as the last engine loaded reported it

    def post(self, message: p.Message) -> None:
        """Hand an engine event to the GUI thread (callable from any thread)."""
        self._received.emit(message)

    def _dispatch(self, message: p.Message) -> None:
        self.event.emit(message)
        if isinstance(message, p.Delta):
            self.delta.emit(message.request_id, message.text)
        elif isinstance(message, p.Done):
            self.done.emit(message.request_id, message.stats)
        elif isinstance(message, p.Error):
            self.error.emit(message.request_id, message.code, message.message)
        elif isinstance(message, p.Loaded):
            self.system_info = message.system_info or self.system_info
            self.loaded.emit(message)

    def shutdown(self) -> None:
        """Stop the engine process."""
        self.client.shutdown()
