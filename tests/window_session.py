"""Drives the real window the way a user lives in it, and watches the process's health.

Used by the soak test (``tests/ui/test_soak.py``) and the soak benchmark
(``python -m benchmarks soak``). Every wait is on a Qt signal with a deadline, never a sleep.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from dataclasses import dataclass

import psutil
from PySide6.QtCore import QEventLoop, Qt, QTimer, SignalInstance
from PySide6.QtTest import QTest

from app.core import protocol as p
from app.storage.schema import MessageStatus
from app.ui.chat_controller import ChatController
from app.ui.main_window import MainWindow


class SessionTimeout(AssertionError):
    """A signal the session waited for did not come in time."""


def wait_signal(signal: SignalInstance, timeout_s: float,
                trigger: Callable[[], object] | None = None) -> tuple:
    """Run the event loop until ``signal`` fires (after calling ``trigger``); its arguments."""
    loop = QEventLoop()
    got: list[tuple] = []

    def fired(*args: object) -> None:
        got.append(args)
        loop.quit()

    signal.connect(fired)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    try:
        if trigger is not None:
            trigger()
        if not got:
            timer.start(int(timeout_s * 1000))
            loop.exec()
    finally:
        timer.stop()
        signal.disconnect(fired)
    if not got:
        raise SessionTimeout(f"no {signal} within {timeout_s:.0f} s")
    return got[0]


@dataclass(frozen=True)
class Health:
    """One look at the GUI process after ``replies`` replies."""

    replies: int
    rss_mb: float
    fds: int
    threads: int
    none_refs: int
    engines: int


def engine_processes() -> int:
    """Live engine processes started by this process (multiprocessing spawn children)."""
    count = 0
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and \
                    any("spawn_main" in part for part in child.cmdline()):
                count += 1
        except psutil.Error:
            continue
    return count


def health(replies: int) -> Health:
    """RSS, open fds, threads, references to None and engine processes, right now."""
    gc.collect()
    me = psutil.Process()
    fds = me.num_fds() if hasattr(me, "num_fds") else me.num_handles()   # Windows: handles
    return Health(replies=replies, rss_mb=me.memory_info().rss / 2**20, fds=fds,
                  threads=me.num_threads(), none_refs=sys.getrefcount(None),
                  engines=engine_processes())


class WindowSession:
    """A user at the window: sends, stops, regenerates, edits, switches chats, searches.

    ``reply_timeout_s`` bounds one reply; ``replies`` counts the replies that ended, and
    ``written`` holds (message id, text streamed to the window) of each, to compare with
    the history.
    """

    def __init__(self, window: MainWindow, reply_timeout_s: float = 120.0) -> None:
        self.window = window
        self.timeout = reply_timeout_s
        self.replies = 0
        self.written: list[tuple[int, str]] = []
        self._streamed: list[str] = []
        self._finished: list[p.ReplyStats] = []   # every reply_finished, as it comes
        window.bridge.delta.connect(lambda _request, text: self._streamed.append(text))
        window.chat.reply_finished.connect(self._finished.append)

    @property
    def chat(self) -> ChatController:
        """The window's open conversation."""
        return self.window.chat

    def _finish(self, start: Callable[[], object], ended_before: int | None = None
                ) -> p.ReplyStats:
        """Call ``start``, then wait for the reply to end (it may have ended already, when
        ``ended_before`` counts the replies that had ended before it was sent)."""
        if ended_before is None:
            ended_before = len(self._finished)
            start()
        if len(self._finished) == ended_before:
            wait_signal(self.chat.reply_finished, self.timeout)
        stats = self._finished[ended_before]
        self.replies += 1
        last = self.chat.messages.row(self.chat.messages.rowCount() - 1)
        if last.role != "assistant" or last.message_id is None:
            raise AssertionError(f"reply {self.replies} is not in the view as stored: {last}")
        self.written.append((last.message_id, "".join(self._streamed)))
        self._streamed.clear()
        return stats

    def send(self, text: str) -> p.ReplyStats:
        """Type ``text``, press Enter, wait for the whole reply."""
        composer = self.window.composer

        def type_it() -> None:
            composer.setFocus()
            QTest.keyClicks(composer, text)
            QTest.keyClick(composer, Qt.Key.Key_Return)

        return self._finish(type_it)

    def send_and_stop(self, text: str) -> p.ReplyStats:
        """Send ``text``, press Stop once the reply has begun to appear."""
        self._streamed.clear()
        self.window.composer.setPlainText(text)
        ended_before = len(self._finished)
        wait_signal(self.window.bridge.delta, self.timeout, self.window.send)
        if len(self._finished) == ended_before:   # the reply may have ended meanwhile
            self.window.stop_button.click()
        stats = self._finish(lambda: None, ended_before)
        if stats.stop_reason != p.StopReason.STOPPED:   # it may have ended just before
            assert stats.stop_reason in (p.StopReason.END, p.StopReason.LENGTH), stats
        else:
            assert self.chat.messages.row(self.chat.messages.rowCount() - 1).status \
                == MessageStatus.STOPPED
        return stats

    def regenerate_last(self) -> p.ReplyStats:
        """Ask for a new version of the last reply (its ↻ action)."""
        row = self.chat.messages.rowCount() - 1
        return self._finish(lambda: self.window.chat_view.regenerate_requested.emit(row))

    def edit_last_question(self, text: str) -> p.ReplyStats:
        """Rewrite the last user message; its new branch gets a reply."""
        row = self.chat.messages.rowCount() - 2
        path = self.window.current_model_path()
        return self._finish(lambda: self.chat.edit(row, text, path))

    def step_version(self, step: int) -> None:
        """Show the previous (-1) or next (+1) version of the last reply."""
        assert self.chat.switch_version(self.chat.messages.rowCount() - 1, step)

    def new_chat(self) -> None:
        """New chat (Ctrl+N)."""
        self.window.new_chat()
        assert self.chat.conversation_id is None

    def open_chat(self, row: int) -> int:
        """Click the ``row``-th chat of the list; its id."""
        view = self.window.conversation_view
        view.setCurrentIndex(self.window.conversations.index(row))
        assert self.chat.conversation_id == self.window.conversations.conversation_id(row)
        return self.chat.conversation_id

    def browse_models(self) -> None:
        """Open the model manager, look at each tab, close it."""
        manager = self.window.open_model_manager()
        QTest.qWaitForWindowExposed(manager, 5000)
        for tab in range(manager.tabs.count()):
            manager.tabs.setCurrentIndex(tab)
            manager.repaint()
        manager.close()

    def search_and_open(self, text: str) -> None:
        """Search all chats for ``text`` and open the first result, then leave search."""
        panel = self.window.search
        panel.focus_search()
        wait_signal(panel.results.modelReset, 10,
                    lambda: QTest.keyClicks(panel.field, text))
        assert panel.results.rowCount() > 0, f"no result for {text!r}"
        wait_signal(panel.open_message, 10, lambda: QTest.keyClick(panel.field, Qt.Key.Key_Return))
        panel.field.clear()
