"""The one way to run work off the GUI thread, with results back on it.

    op = BackgroundOp[Listing](fetch_listing, repo_id)
    op.success(show_listing).failure(show_error).run_in_background()

``success`` gets the return value (typed: a ``BackgroundOp[T]`` hands it a ``T``) and
``failure`` the exception, both on the GUI thread.
With ``with_progress(callback)`` the function is also given a ``progress`` keyword: a
callable it may call from its thread with any value; ``callback(value)`` then runs on the
GUI thread (in order, before ``success``/``failure``).
Without a failure callback, a known error (HearthError) is shown in a message box and
anything else is raised on the GUI thread so it reaches the crash dialog.

The module counts the ops whose function has not returned yet (``running_count``;
``running_ops().idle`` is emitted when none is left). Quitting calls ``finish_running``:
ops given a cancel flag (``with_cancel``) are told to stop, every op gets a bounded time to
return, and the callbacks still to come are dropped, since the window they would update is
closing (the app has one window; the count and the pool are the whole app's).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from app.core.errors import HearthError

log = logging.getLogger(__name__)

T = TypeVar("T")

_alive: set[BackgroundOp[Any]] = set()  # keeps ops alive until their callbacks ran
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


class RunningOps(QObject):
    """The ops whose function has been started and has not returned yet.

    Signals:
        idle(): the last running op's function returned (delivered on the GUI thread).
    """

    idle = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._ops: set[BackgroundOp[Any]] = set()
        self._changed = threading.Condition()

    def count(self) -> int:
        """How many ops are running now."""
        with self._changed:
            return len(self._ops)

    def started(self, op: BackgroundOp[Any]) -> None:
        """``op`` was handed to the thread pool."""
        with self._changed:
            self._ops.add(op)

    def returned(self, op: BackgroundOp[Any]) -> None:
        """``op``'s function returned or raised (called on its thread)."""
        with self._changed:
            self._ops.discard(op)
            empty = not self._ops
            self._changed.notify_all()
        if empty:
            self.idle.emit()

    def cancel_all(self) -> list[BackgroundOp[Any]]:
        """Set the cancel flag of every running op that has one; returns the running ops."""
        with self._changed:
            ops = list(self._ops)
        for op in ops:
            op.cancel()
        return ops

    def wait(self, timeout_s: float) -> bool:
        """Block until no op runs, at most ``timeout_s`` seconds; True if none is left."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            return self._changed.wait_for(lambda: not self._ops,
                                          max(0.0, deadline - time.monotonic()))


_counter: RunningOps | None = None


def running_ops() -> RunningOps:
    """The count of running ops (created on first use, on the GUI thread)."""
    global _counter
    if _counter is None:
        _counter = RunningOps()
    return _counter


def running_count() -> int:
    """How many background ops are running now (their function has not returned)."""
    return running_ops().count()


def finish_running(timeout_s: float) -> bool:
    """For quitting: cancel what can be, wait up to ``timeout_s`` for every running op to
    return, and drop the callbacks still to come. True when none was left running."""
    ops = running_ops().cancel_all()
    for op in ops:
        op.drop()
    finished = running_ops().wait(timeout_s)
    if not finished:
        log.warning("%d background operation(s) still running after %.1f s; quitting "
                    "anyway", running_count(), timeout_s)
    return finished


class _Relay(QObject):
    finished = Signal(object, object)  # result, exception
    progressed = Signal(object)


class _Runnable(QRunnable):
    def __init__(self, op: BackgroundOp[Any], func: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._op, self._func, self._relay = op, func, relay

    def run(self) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = self._func()
        except BaseException as exc:  # handed to the GUI thread
            error = exc
        self._relay.finished.emit(result, error)  # queued: callbacks run before ``idle``
        running_ops().returned(self._op)


class BackgroundOp(Generic[T]):
    """A function to run on the thread pool, with callbacks on the GUI thread.

    ``BackgroundOp[T](func, …)``: ``func`` returns a ``T``, which ``success`` receives.
    """

    def __init__(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> None:
        self._func, self._args, self._kwargs = func, args, kwargs
        self._on_success: Callable[[T], None] | None = None
        self._on_failure: Callable[[BaseException], None] | None = None
        self._on_progress: Callable[[Any], None] | None = None
        self._cancel: threading.Event | None = None
        self._dropped = False
        self._relay = _Relay()
        self._relay.finished.connect(self._finished)
        self._relay.progressed.connect(self._progressed)

    def success(self, callback: Callable[[T], None]) -> BackgroundOp[T]:
        """Call ``callback(result)`` on the GUI thread when the work returns."""
        self._on_success = callback
        return self

    def failure(self, callback: Callable[[BaseException], None]) -> BackgroundOp[T]:
        """Call ``callback(exception)`` on the GUI thread when the work raises."""
        self._on_failure = callback
        return self

    def with_progress(self, callback: Callable[[Any], None]) -> BackgroundOp[T]:
        """Pass ``progress=`` to the function; each value it reports reaches ``callback``."""
        self._on_progress = callback
        return self

    def with_cancel(self, flag: threading.Event) -> BackgroundOp[T]:
        """The flag the function checks to stop early; quitting sets it."""
        self._cancel = flag
        return self

    def run_in_background(self) -> None:
        """Start the work on the background thread pool."""
        _alive.add(self)
        kwargs = dict(self._kwargs)
        if self._on_progress is not None:
            kwargs["progress"] = self._relay.progressed.emit
        func, args = self._func, self._args
        running_ops().started(self)
        _thread_pool().start(_Runnable(self, lambda: func(*args, **kwargs), self._relay))

    def cancel(self) -> None:
        """Set the op's cancel flag, if it has one."""
        if self._cancel is not None:
            self._cancel.set()

    def drop(self) -> None:
        """Call none of the callbacks any more (the app is quitting)."""
        self._dropped = True

    def _progressed(self, value: Any) -> None:
        if not self._dropped and self._on_progress is not None:
            self._on_progress(value)

    def _finished(self, result: Any, error: BaseException | None) -> None:
        _alive.discard(self)
        if self._dropped:
            return
        if error is None:
            if self._on_success is not None:
                self._on_success(result)
        elif self._on_failure is not None:
            self._on_failure(error)
        elif isinstance(error, HearthError):
            QMessageBox.warning(QApplication.activeWindow(), "Hearth", str(error))
        else:
            raise error
