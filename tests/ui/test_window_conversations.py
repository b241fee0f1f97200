"""The conversation list: new, select, delete; and the first start on an empty library."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.chat.profile import Profile
from app.core.errors import HearthError
from app.core.paths import Paths
from app.ui import conversation_actions
from app.ui.background import BackgroundOp
from tests.ui.conftest import view_texts


def _seed(paths: Paths) -> tuple[int, int]:
    history = Profile.open(paths).history
    first = history.create_conversation()
    history.add_message(first.id, "user", "About owls")
    history.add_message(first.id, "assistant", "Owls are birds.")
    second = history.create_conversation()
    history.add_message(second.id, "user", "About cats")
    return first.id, second.id


def test_select_new_and_delete(qtbot, open_window, paths: Paths,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversation_actions, "UNDO_MS", 300)
    first, second = _seed(paths)
    window = open_window(paths)
    titles = [window.conversations.index(i).data() for i in range(2)]
    assert titles == ["About cats", "About owls"]

    window.conversation_view.setCurrentIndex(window.conversations.index(1))
    assert window.chat.conversation_id == first
    assert view_texts(window) == [("user", "About owls"), ("assistant", "Owls are birds.")]

    qtbot.mouseClick(window.new_button, Qt.MouseButton.LeftButton)
    assert window.chat.conversation_id is None and view_texts(window) == []
    assert not window.conversation_view.selectionModel().hasSelection()

    window.conversation_view.setCurrentIndex(window.conversations.index(1))
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.No)
    qtbot.mouseClick(window.delete_button, Qt.MouseButton.LeftButton)
    assert window.conversations.rowCount() == 2          # "No" keeps it
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(window.delete_button, Qt.MouseButton.LeftButton)
    assert window.conversations.rowCount() == 1
    assert window.profile.history.conversation(first) is None
    assert window.chat.conversation_id is None and view_texts(window) == []
    assert window.conversations.index(0).data(window.conversations.IdRole) == second
    assert window.undo_bar.isVisible()
    qtbot.mouseClick(window.undo_bar.button, Qt.MouseButton.LeftButton)
    assert window.conversations.rowCount() == 2 and not window.undo_bar.isVisible()

    window.conversation_view.setCurrentIndex(window.conversations.index(1))
    qtbot.mouseClick(window.delete_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.actions_._purge.timeout, timeout=5000):
        pass   # nobody pressed Undo: the chat is purged from disk
    assert window.profile.history.messages(first) == []
    assert window.profile.history.message_count(first) == 0
    assert not window.undo_bar.isVisible()


def test_first_start_fetches_the_starter_model(qtbot, paths: Paths,
                                               starter_gguf: Path) -> None:
    from app.ui.main_window import MainWindow

    window = MainWindow(Profile.open(paths), fetch_starter=True)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.model_picker.currentIndex() == 0, timeout=60_000)
    assert window.current_model_path() == str(paths.models_dir / starter_gguf.name)
    assert window.profile.settings.get("default_model") == window.current_model_path()
    window.close()


def test_a_library_of_only_unusable_files_still_gets_the_starter_model(
        qtbot, paths: Paths, starter_gguf: Path) -> None:
    from app.ui.main_window import MainWindow

    (paths.models_dir / "broken.gguf").write_bytes(b"GGUF")
    window = MainWindow(Profile.open(paths), fetch_starter=True)
    qtbot.addWidget(window)
    starter = str(paths.models_dir / starter_gguf.name)
    qtbot.waitUntil(lambda: window.current_model_path() == starter, timeout=60_000)
    assert window.models.rowCount() == 2 and window.models.usable_count() == 1
    window.close()


def test_background_op_reports_on_the_gui_thread(qtbot) -> None:
    from PySide6.QtCore import QThread

    results: list[tuple[str, object, bool]] = []
    gui = QThread.currentThread()
    BackgroundOp(lambda x: x * 2, 21) \
        .success(lambda value: results.append(("ok", value, QThread.currentThread() is gui))) \
        .run_in_background()

    def fail() -> None:
        raise HearthError("disk full", "free some space")

    BackgroundOp(fail) \
        .failure(lambda exc: results.append(("failed", str(exc),
                                             QThread.currentThread() is gui))) \
        .run_in_background()
    qtbot.waitUntil(lambda: len(results) == 2, timeout=5000)
    assert sorted(results) == [("failed", "disk full free some space", True), ("ok", 42, True)]



def test_the_chat_menu_exports_everything(qtbot, open_window, paths: Paths, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QFileDialog, QMenu

    _seed(paths)
    window = open_window(paths)
    target = tmp_path / "all.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args, **kwargs: (str(target), "JSON (*.json)"))
    monkeypatch.setattr(QMessageBox, "information", lambda *args, **kwargs: None)
    actions = {a.text(): a for menu in window.menuBar().findChildren(QMenu)
               for a in menu.actions()}
    actions["Export all chats…"].trigger()
    assert target.is_file() and "About owls" in target.read_text(encoding="utf-8")


def test_background_op_relays_progress_in_order_before_success(qtbot) -> None:
    from PySide6.QtCore import QThread

    seen: list[object] = []
    gui = QThread.currentThread()

    def count(limit: int, progress) -> str:
        for step in range(limit):
            progress(step)
        return "done"

    BackgroundOp(count, 5) \
        .with_progress(lambda value: seen.append((value, QThread.currentThread() is gui))) \
        .success(seen.append) \
        .run_in_background()
    qtbot.waitUntil(lambda: "done" in seen, timeout=5000)
    assert seen == [(0, True), (1, True), (2, True), (3, True), (4, True), "done"]
