"""End to end in the real window with the real starter model."""

from __future__ import annotations

import os
import signal
import time

import pytest
from PySide6.QtCore import Qt

from app.core.paths import Paths
from app.storage.schema import MessageStatus
from tests.pace import stop_deadline_s
from tests.ui.conftest import type_and_send, view_texts

QUESTION = "What is the capital of France?"
LONG = "Count from 1 to 400, separated by commas."
REPLY_TIMEOUT_MS = 60_000


def test_question_streams_into_the_view_and_is_stored(qtbot, open_window,
                                                      model_paths: Paths) -> None:
    window = open_window(model_paths)
    deltas: list[str] = []
    window.bridge.delta.connect(lambda _rid, text: deltas.append(text))
    with qtbot.waitSignal(window.chat.reply_finished, timeout=REPLY_TIMEOUT_MS) as finished:
        type_and_send(qtbot, window, QUESTION)
    reply = "".join(deltas)
    assert reply.strip() and len(deltas) > 1
    assert window.composer.toPlainText() == ""
    assert view_texts(window) == [("user", QUESTION), ("assistant", reply)]
    stats = finished.args[0]
    assert stats.completion_tokens >= len(deltas) - 1

    history = window.profile.history
    (conversation,) = history.conversations()
    assert conversation.title == QUESTION
    user, assistant = history.messages(conversation.id)
    assert (user.role, user.content) == ("user", QUESTION)
    assert (assistant.content, assistant.status) == (reply, MessageStatus.COMPLETE)
    assert assistant.completion_tokens == stats.completion_tokens
    assert assistant.tokens_per_second and assistant.ttft_s is not None
    assert assistant.n_threads and f"{assistant.n_threads} thread" in \
        window.chat.messages.row(1).details   # stored, and shown with the reply
    window.close()

    reopened = open_window(model_paths)
    assert reopened.conversations.rowCount() == 1
    reopened.conversation_view.setCurrentIndex(reopened.conversations.index(0))
    assert view_texts(reopened) == [("user", QUESTION), ("assistant", reply)]


def test_stop_ends_the_reply_quickly_and_keeps_the_partial_text(
        qtbot, open_window, model_paths: Paths) -> None:
    window = open_window(model_paths, max_tokens=1500)
    with qtbot.waitSignal(window.bridge.delta, timeout=REPLY_TIMEOUT_MS):
        type_and_send(qtbot, window, LONG)
    assert window.stop_button.isEnabled()
    with qtbot.waitSignal(window.chat.busy_changed, timeout=REPLY_TIMEOUT_MS,
                          check_params_cb=lambda busy: busy is False):
        clicked = time.monotonic()
        qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)
    took = time.monotonic() - clicked
    (conversation,) = window.profile.history.conversations()
    stored = window.profile.history.messages(conversation.id)[-1]
    assert stored.status == MessageStatus.STOPPED and stored.stop_reason == "stopped"
    assert took < stop_deadline_s(stored.tokens_per_second), (took, stored.tokens_per_second)
    assert stored.content and view_texts(window)[-1] == ("assistant", stored.content)
    assert window.chat.messages.row(1).status == MessageStatus.STOPPED
    assert window.send_button.isEnabled() and not window.stop_button.isEnabled()


@pytest.mark.allow_warnings
def test_killed_engine_shows_an_error_keeps_the_reply_and_recovers(
        qtbot, open_window, model_paths: Paths) -> None:
    window = open_window(model_paths, max_tokens=1500)
    deltas: list[str] = []
    window.bridge.delta.connect(lambda _rid, text: deltas.append(text))
    with qtbot.waitSignal(window.bridge.delta, timeout=REPLY_TIMEOUT_MS):
        type_and_send(qtbot, window, LONG)
    old_pid = window.bridge.client.pid
    with qtbot.waitSignal(window.chat.error_occurred, timeout=10_000) as failed:
        os.kill(old_pid, signal.SIGKILL)
    assert "SIGKILL" in failed.args[0]
    assert window.banner.isVisible() and "SIGKILL" in window.banner.label.text()
    history = window.profile.history
    (conversation,) = history.conversations()
    partial = history.messages(conversation.id)[-1]
    assert partial.status == MessageStatus.ERROR and "SIGKILL" in partial.error
    assert partial.content and "".join(deltas).startswith(partial.content)

    with qtbot.waitSignal(window.chat.reply_finished, timeout=REPLY_TIMEOUT_MS):
        type_and_send(qtbot, window, QUESTION)
    assert window.bridge.client.pid not in (None, old_pid)
    assert [m.role for m in history.messages(conversation.id)] == [
        "user", "assistant", "user", "assistant"]

