"""The one way to run work off the GUI thread, with results back on it.

    op = BackgroundOp(fetch_something, arg)
    op.success(show_result).failure(show_error).run_in_background()

``success`` gets the return value and ``failure`` the exception, both on the GUI thread.
With ``with_progress(callback)`` the function is also given a ``progress`` keyword: a
callable it may call from its thread with any value; ``callback(value)`` then runs on the
GUI thread (in order, before ``success``/``failure``).
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
# Most background work waits on disks and networks (downloads, hub requests), so the pool
# is not limited to the CPU count: on a 2-core machine a running download would otherwise
# hold back a hub search.
_POOL_THREADS = 8
_pool: QThreadPool | None = None


def _thread_pool() -> QThreadPool:
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(_POOL_THREADS)
    return _pool


class _Relay(QObject):
    finished = Signal(object, object)  # result, exception
    progressed = Signal(object)


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
        self._func, self._args, self._kwargs = func, args, kwargs
        self._on_success: Callable[[Any], None] | None = None
        self._on_failure: Callable[[BaseException], None] | None = None
        self._relay = _Relay()
        self._relay.finished.connect(self._finished)
        self._wants_progress = False

    def success(self, callback: Callable[[Any], None]) -> BackgroundOp:
        """Call ``callback(result)`` on the GUI thread when the work returns."""
        self._on_success = callback
        return self

    def failure(self, callback: Callable[[BaseException], None]) -> BackgroundOp:
        """Call ``callback(exception)`` on the GUI thread when the work raises."""
        self._on_failure = callback
        return self

    def with_progress(self, callback: Callable[[Any], None]) -> BackgroundOp:
        """Pass ``progress=`` to the function; each value it reports reaches ``callback``."""
        self._wants_progress = True
        self._relay.progressed.connect(callback)
        return self

    def run_in_background(self) -> None:
        """Start the work on the background thread pool."""
        _running.add(self)
        kwargs = dict(self._kwargs)
        if self._wants_progress:
            kwargs["progress"] = self._relay.progressed.emit
        func, args = self._func, self._args
        _thread_pool().start(_Runnable(lambda: func(*args, **kwargs),
                                                     self._relay))

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
