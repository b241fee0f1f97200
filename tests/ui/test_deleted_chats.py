"""A deleted chat is gone from every file of the profile: database, WAL, saved states, logs,
and the upgrade backups when the user lets them go too (the dialog names them)."""

from __future__ import annotations

from pathlib import Path

import llama_cpp
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.core.paths import Paths
from app.engine.state_files import key_stem
from app.storage.backups import backup, list_backups
from app.ui.history_backups import HistoryBackupsDialog
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


def _answer_with(monkeypatch, button_text: str) -> list[str]:
    """Make the delete confirmation (with backups) answer ``button_text``; return its texts."""
    shown: list[str] = []

    def answer(box: QMessageBox) -> int:
        shown.append(box.text())
        next(b for b in box.buttons() if b.text() == button_text).click()
        return 0

    def plain_question(_parent, _title: str, text: str, *_args) -> QMessageBox.StandardButton:
        shown.append(text)   # only asked when no backup is known
        return QMessageBox.StandardButton.No if button_text == "Cancel" else \
            QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "exec", answer)
    monkeypatch.setattr(QMessageBox, "question", plain_question)
    return shown


def test_a_deleted_chat_leaves_no_trace_in_any_file(qtbot, open_window, model_paths: Paths,
                                                    model_path: str, monkeypatch) -> None:
    shown = _answer_with(monkeypatch, "Delete, with the backups")   # the user confirms
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
    copy = backup(model_paths.database_path, "0006")   # as an upgrade made it, before deletion
    vocab = _vocab(model_path)
    assert saved and copy.name in _traces(model_paths.data_dir, vocab)   # the check can fail

    window.conversation_view.setCurrentIndex(
        window.conversations.index(window.conversations.row_of(secret_chat.id)))
    qtbot.mouseClick(window.delete_button, Qt.MouseButton.LeftButton)
    assert len(shown) == 1 and copy.name in shown[0]
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


def _chat_with_a_backup(window, paths: Paths, tag: str = "0006") -> tuple[int, Path]:
    history = window.profile.history
    chat = history.create_conversation()
    history.add_message(chat.id, "user", SECRET)
    window.conversations.reload()
    window.conversation_view.setCurrentIndex(
        window.conversations.index(window.conversations.row_of(chat.id)))
    return chat.id, backup(paths.database_path, tag)   # as an upgrade would make it


def test_deleting_a_chat_names_the_backups_that_still_hold_it(qtbot, open_window,
                                                              paths: Paths,
                                                              monkeypatch) -> None:
    window = open_window(paths)
    _first, copy = _chat_with_a_backup(window, paths)
    shown = _answer_with(monkeypatch, "Delete, keep the backups")
    qtbot.mouseClick(window.delete_button, Qt.MouseButton.LeftButton)
    assert len(shown) == 1
    assert "A backup copy of your history" in shown[0] and copy.name in shown[0]
    assert str(paths.data_dir) in shown[0]          # where it is
    assert window.conversations.rowCount() == 0 and copy.exists()   # kept, as chosen

    _second, _second_copy = _chat_with_a_backup(window, paths, "0005")
    shown = _answer_with(monkeypatch, "Delete, with the backups")
    window.actions_.delete_all()
    assert "2 backup copies of your history" in shown[0] and "still hold them" in shown[0]
    assert list_backups(paths.database_path) == []   # deleted at once: no undo for them
    assert "backups were deleted" in window.undo_bar.label.text()

    _third, _third_copy = _chat_with_a_backup(window, paths)
    _answer_with(monkeypatch, "Cancel")
    qtbot.mouseClick(window.delete_button, Qt.MouseButton.LeftButton)
    assert window.conversations.rowCount() == 1 and list_backups(paths.database_path)


def test_the_backups_dialog_lists_them_keeps_a_count_and_deletes_them(qtbot, open_window,
                                                                      paths: Paths) -> None:
    window = open_window(paths)
    _chat, copy = _chat_with_a_backup(window, paths)
    older = copy.with_name("history.sqlite3.backup-0005-20240101-000000")
    older.write_bytes(b"an older copy")
    dialog = window.actions_.edit_backups()
    assert isinstance(dialog, HistoryBackupsDialog)
    assert [dialog.list.item(i).text().split(" · ")[0] for i in range(dialog.list.count())] \
        == [older.name, copy.name]
    dialog.keep.setValue(1)
    dialog.accept()                                   # saved, and applied at once
    assert window.profile.settings.get("keep_history_backups") == 1
    assert list_backups(paths.database_path) == [copy]

    dialog = window.actions_.edit_backups()
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    assert list_backups(paths.database_path) == [] and not dialog.delete_button.isEnabled()
    assert dialog.list.item(0).text() == "No backups."
    dialog.reject()
