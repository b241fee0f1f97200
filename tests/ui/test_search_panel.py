"""Searching all chats from the window: type, see highlighted results, jump to the message."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from app.chat.profile import Profile
from app.core.paths import Paths
from app.storage.database import open_database
from app.storage.history import History
from app.ui.main_window import MainWindow
from app.ui.search_panel import SearchPanel
from app.ui.search_results_model import SearchResultsModel


def _seed(paths: Paths) -> dict[str, int]:
    """Three chats: a short one, a long one, and one with two versions of a reply."""
    history = Profile.open(paths).history
    ids: dict[str, int] = {}
    short = history.create_conversation()
    ids["short"] = short.id
    ids["owls"] = history.add_message(short.id, "user", "Tell me about owls").id
    history.add_message(short.id, "assistant", "Owls hunt at night <b>silently</b>.")
    long = history.create_conversation(title="Long chat")
    for i in range(120):
        text = "the needle in a haystack" if i == 4 else f"filler message number {i}"
        message = history.add_message(long.id, "user" if i % 2 == 0 else "assistant", text)
        if i == 4:
            ids["needle"] = message.id
    ids["long"] = long.id
    branchy = history.create_conversation(title="Branches")
    question = history.add_message(branchy.id, "user", "Name a colour")
    ids["first_answer"] = history.add_message(branchy.id, "assistant", "Vermilion").id
    history.add_message(branchy.id, "assistant", "Blue", parent_id=question.id)
    ids["branchy"] = branchy.id
    return ids


def _search(qtbot, panel: SearchPanel, text: str) -> None:
    """Type ``text`` into a cleared search box and wait for the debounced search."""
    panel.field.clear()
    with qtbot.waitSignal(panel.results.modelReset, timeout=10_000):
        qtbot.keyClicks(panel.field, text)


def _click_result(qtbot, panel: SearchPanel, row: int) -> None:
    view = panel.results_view
    rect = view.visualRect(panel.results.index(row))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _selected_text(window: MainWindow) -> str | None:
    index = window.chat_view.currentIndex()
    return index.data() if index.isValid() else None


def _in_sight(window: MainWindow) -> bool:
    view = window.chat_view
    return view.visualRect(view.currentIndex()).intersects(view.viewport().rect())


def test_results_model(qtmodeltester, paths: Paths) -> None:
    history = History(open_database(paths.database_path))
    chat = history.create_conversation(title="Birds")
    older = history.add_message(chat.id, "user", "owls & <larks>")
    newer = history.add_message(chat.id, "assistant", "more owls")
    model = SearchResultsModel(history)
    model.search("owls ")
    qtmodeltester.check(model)
    assert [model.index(r).data(SearchResultsModel.MessageIdRole) for r in range(2)] == \
        [newer.id, older.id]
    first = model.index(1)
    assert first.data() == "owls & <larks>"
    assert first.data(SearchResultsModel.SnippetHtmlRole) == "<b>owls</b> &amp; &lt;larks&gt;"
    assert first.data(SearchResultsModel.TitleRole) == "Birds"
    assert first.data(SearchResultsModel.ConversationIdRole) == chat.id
    assert first.data(SearchResultsModel.RoleRole) == "user"
    assert first.data(SearchResultsModel.CreatedAtRole) is not None
    model.clear()
    assert model.rowCount() == 0


def test_typing_searches_once_typing_pauses(qtbot, paths: Paths) -> None:
    _seed(paths)
    idle = QLabel("conversations")
    panel = SearchPanel(Profile.open(paths).history, idle)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.field.placeholderText() == "Search all chats…"
    resets: list[None] = []
    panel.results.modelReset.connect(lambda: resets.append(None))
    with qtbot.waitSignal(panel.results.modelReset, timeout=10_000):
        qtbot.keyClicks(panel.field, "owls")
        assert resets == []            # not at every key press
    assert len(resets) == 1
    assert panel.searching and not idle.isVisible()
    assert panel.results.rowCount() == 2 and not panel.empty_label.isVisible()
    panel.results_view.setCurrentIndex(panel.results.index(0))
    assert not panel.results_view.grab().isNull()  # the delegate paints both rows
    _search(qtbot, panel, "zebra")
    assert panel.results.rowCount() == 0 and panel.empty_label.isVisible()
    panel.field.clear()                 # blank: back to the conversation list at once
    assert not panel.searching and idle.isVisible()


@pytest.mark.parametrize("text", ['"', "AND", "(", "*", "-x", "a:b", "NEAR(", "🔥",
                                  "naïve café", "日本語", "x" * 2000],
                         ids=lambda text: ascii(text)[:24])
def test_anything_typed_is_accepted(qtbot, paths: Paths, text: str) -> None:
    panel = SearchPanel(Profile.open(paths).history)
    qtbot.addWidget(panel)
    panel.field.setText(text)
    panel.run_search()
    assert panel.searching


def test_ctrl_f_search_and_jump_to_a_message(qtbot, open_window, paths: Paths) -> None:
    ids = _seed(paths)
    window = open_window(paths)
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.search.field

    _search(qtbot, window.search, "needle hay")
    assert window.search.results.rowCount() == 1
    with qtbot.waitSignal(window.search.open_message, timeout=2000) as opened:
        _click_result(qtbot, window.search, 0)
    assert opened.args == [ids["long"], ids["needle"]]
    assert window.chat.conversation_id == ids["long"]
    assert _selected_text(window) == "the needle in a haystack"
    assert _in_sight(window)

    _search(qtbot, window.search, "owls")       # Enter: the newest result opens
    qtbot.keyClick(window.search.field, Qt.Key.Key_Return)
    assert window.search.results_view.hasFocus()
    assert _selected_text(window) == "Owls hunt at night <b>silently</b>."
    qtbot.keyClick(window.search.results_view, Qt.Key.Key_Down)
    assert _selected_text(window) == "Tell me about owls"
    assert window.conversations.row_of(window.chat.conversation_id) is not None


def test_jump_to_a_message_in_another_branch(qtbot, open_window, paths: Paths) -> None:
    ids = _seed(paths)
    window = open_window(paths)
    history = window.profile.history
    window.open_message(ids["branchy"], ids["first_answer"])  # a closed chat
    assert ids["first_answer"] in history.path_ids(ids["branchy"])
    assert _selected_text(window) == "Vermilion"

    blue = history.add_message(ids["branchy"], "assistant", "Blue again",
                               parent_id=history.path_ids(ids["branchy"])[0])
    window.chat.new_conversation()
    window.chat.open_conversation(ids["branchy"])  # open, showing the newest branch
    assert window.chat.messages.index(1).data() == "Blue again"
    _search(qtbot, window.search, "vermilion")
    _click_result(qtbot, window.search, 0)
    assert history.path_ids(ids["branchy"])[-1] == ids["first_answer"] != blue.id
    assert _selected_text(window) == "Vermilion"


def test_results_follow_deleted_chats(qtbot, open_window, paths: Paths) -> None:
    ids = _seed(paths)
    window = open_window(paths)
    _search(qtbot, window.search, "owls")
    _click_result(qtbot, window.search, 1)
    assert window.chat.conversation_id == ids["short"]
    window.chat.delete_conversation(ids["short"])
    assert window.search.results.rowCount() == 0 and window.search.empty_label.isVisible()
    window.open_message(ids["short"], ids["owls"])  # e.g. a result shown before
    assert window.statusBar().currentMessage() == "That chat was deleted."
    assert window.chat.conversation_id is None


def test_jump_keeps_the_chosen_result_when_results_refresh(qtbot, open_window,
                                                           paths: Paths) -> None:
    _seed(paths)
    window = open_window(paths)
    _search(qtbot, window.search, "filler message")
    _click_result(qtbot, window.search, 2)
    chosen = window.search.results.hit(2)
    opened: list[object] = []
    window.search.open_message.connect(lambda *args: opened.append(args))
    window.chat.conversations_changed.emit()
    assert window.search.results_view.currentIndex().row() == 2
    assert window.search.results.hit(2) == chosen and opened == []
