"""The one way to run work off the GUI thread, with results back on it.

    op = BackgroundOp(fetch_something, arg)
    op.success(show_result).failure(show_error).run_in_background()

``success`` gets the return value and ``failure`` the exception, both on the GUI thread.
Without a failure callback, a known error (HearthError) is shown in a message box and
anything else is raised on the GUI thread so it reaches the crash dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from app.core.errors import HearthError

_running: set[BackgroundOp] = set()  # keeps ops alive until their callbacks ran


class _Relay(QObject):
    finished = Signal(object, object)  # result, exception


class _Runnable(QRunnable):
    def __init__(self, func: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._func = func
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._func()
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread
            self._relay.finished.emit(None, exc)
        else:
            self._relay.finished.emit(result, None)


class BackgroundOp:
    """A function to run on the thread pool, with callbacks on the GUI thread."""

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._call = lambda: func(*args, **kwargs)
        self._on_success: Callable[[Any], None] | None = None
        self._on_failure: Callable[[BaseException], None] | None = None
        self._relay = _Relay()
        self._relay.finished.connect(self._finished)

    def success(self, callback: Callable[[Any], None]) -> BackgroundOp:
        """Call ``callback(result)`` on the GUI thread when the work returns."""
        self._on_success = callback
        return self

    def failure(self, callback: Callable[[BaseException], None]) -> BackgroundOp:
        """Call ``callback(exception)`` on the GUI thread when the work raises."""
        self._on_failure = callback
        return self

    def run_in_background(self) -> None:
        """Start the work on the global thread pool."""
        _running.add(self)
        QThreadPool.globalInstance().start(_Runnable(self._call, self._relay))

    def _finished(self, result: Any, error: BaseException | None) -> None:
        _running.discard(self)
        if error is None:
            if self._on_success is not None:
                self._on_success(result)
        elif self._on_failure is not None:
            self._on_failure(error)
        elif isinstance(error, HearthError):
            QMessageBox.warning(QApplication.activeWindow(), "Hearth", str(error))
        else:
            raise error
