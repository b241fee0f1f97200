"""A deleted chat is gone from every file of the profile: database, WAL, saved states, logs."""

from __future__ import annotations

from pathlib import Path

import llama_cpp
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.core.paths import Paths
from app.engine.state_files import key_stem
from tests.ui.conftest import type_and_send

REPLY_MS = 120_000
SECRET = "zorblax quindlewhip"
LONG_SECRET = f"Remember these words: {SECRET}. " * 30   # past the 256 tokens worth saving


def _vocab(model_path: str) -> llama_cpp.Llama:
    return llama_cpp.Llama(model_path=model_path, vocab_only=True, verbose=False)


def _traces(profile_dir: Path, vocab: llama_cpp.Llama) -> list[str]:
    """Files of the profile that hold the secret: as text, as tokens, or decoded."""
    pattern = np.asarray(vocab.tokenize(f" {SECRET}".encode(), add_bos=False),
                         dtype=np.int32).tobytes()
    found = []
    for path in sorted(p for p in profile_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if SECRET.encode() in data or pattern in data:
            found.append(str(path.relative_to(profile_dir)))
        elif path.name.endswith(".tokens.npy"):
            tokens = np.load(path).tolist()
            if SECRET in vocab.detokenize(tokens).decode("utf-8", errors="replace"):
                found.append(f"{path.relative_to(profile_dir)} (decoded)")
    return found


def test_a_deleted_chat_leaves_no_trace_in_any_file(qtbot, open_window, model_paths: Paths,
                                                    model_path: str, monkeypatch) -> None:
    monkeypatch.setattr(QMessageBox, "question",   # the user confirms the deletion
                        lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    window = open_window(model_paths, max_tokens=8)
    history, chat = window.profile.history, window.chat
    with qtbot.waitSignal(chat.reply_finished, timeout=REPLY_MS):
        window.composer.setPlainText(LONG_SECRET)
        qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    secret_chat = history.conversation(chat.conversation_id)
    window.new_chat()
    with qtbot.waitSignal(chat.reply_finished, timeout=REPLY_MS):
        type_and_send(qtbot, window, "Hello there.")   # the engine saves the first chat
    states = model_paths.cache_dir / "kv-states"
    saved = list(states.glob(f"{key_stem(secret_chat.cache_key)}-*.state"))
    vocab = _vocab(model_path)
    assert saved and _traces(model_paths.data_dir, vocab)   # the check can fail

    window.conversation_view.setCurrentIndex(
        window.conversations.index(window.conversations.row_of(secret_chat.id)))
    qtbot.mouseClick(window.delete_button, Qt.MouseButton.LeftButton)
    window.actions_.purge()   # the undo time is over
    with qtbot.waitSignal(chat.reply_finished, timeout=REPLY_MS):
        type_and_send(qtbot, window, "And goodbye.")   # the engine has read its orders
    window.close()   # the engine saves what it holds as it stops

    assert not list(states.glob(f"{key_stem(secret_chat.cache_key)}-*"))
    assert _traces(model_paths.data_dir, vocab) == []


def test_a_new_chat_never_inherits_a_deleted_chats_key(open_window, model_paths: Paths) -> None:
    window = open_window(model_paths)
    history = window.profile.history
    first = history.create_conversation()
    history.delete_conversation(first.id)
    history.purge_deleted()
    second = history.create_conversation()
    info = history.conversation(second.id)
    assert info is not None and info.cache_key
    assert second.id == first.id   # SQLite hands the id out again...
    assert info.cache_key != first.cache_key   # ...but never the key
