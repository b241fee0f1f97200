"""Without a user action Hearth opens no network connection, in any of its processes.

Starting the app, opening chats, chatting with a local model and opening the model manager's
Library tab are watched by the audit hook of ``app.core.network_audit`` in this (the GUI)
process and in the engine processes, which inherit ``HEARTH_NETWORK_AUDIT``.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from app.core import network_audit
from app.core.paths import Paths
from tests.ui.conftest import type_and_send


@pytest.fixture
def audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    record = tmp_path / "network.log"
    monkeypatch.setenv(network_audit.ENV, str(record))
    network_audit.install(record)
    yield record
    network_audit.install(None)


def test_the_audit_sees_a_connection_attempt(audit: Path) -> None:
    """The check below could fail: a real attempt (to a closed loopback port) is recorded."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, \
            pytest.raises(OSError):
        sock.settimeout(2)
        sock.connect(("127.0.0.1", 9))
    assert "socket.connect ('127.0.0.1', 9)" in audit.read_text(encoding="utf-8")
    left, right = socket.socketpair()  # local sockets are not network
    left.close(), right.close()
    assert audit.read_text(encoding="utf-8").count("\n") == 1


def test_using_hearth_offline_opens_no_connection(qtbot, open_window, audit: Path,
                                                  model_paths: Paths, model_path: str) -> None:
    window = open_window(model_paths, max_tokens=8)
    for text in ("Hello", "And one more thing"):
        with qtbot.waitSignal(window.chat.reply_finished, timeout=120000):
            type_and_send(qtbot, window, text)
    first = window.chat.conversation_id
    window.new_chat()
    with qtbot.waitSignal(window.chat.reply_finished, timeout=120000):
        type_and_send(qtbot, window, "A second chat")
    assert first is not None
    window.chat.open_conversation(first)              # opening a chat again
    manager = window.open_model_manager()             # the Library tab, scanned
    with qtbot.waitSignal(window.scanner.scanned, timeout=60000):
        manager.library_page.reload()
    assert manager.library_page.table_model.rowCount() >= 1
    window.show_about().close()
    assert window.bridge.client.loaded_models() == [model_path]  # an engine process ran
    assert not audit.exists() or audit.read_text(encoding="utf-8") == "", \
        audit.read_text(encoding="utf-8")
