"""Branches in the window: regenerate and edit make versions; ‹ n/m › steps through them;
long chats are read page by page."""

from __future__ import annotations

from app.chat.profile import Profile
from app.core.paths import Paths
from app.ui.message_list_model import PAGE
from tests.ui.conftest import type_and_send, view_texts

REPLY_MS = 60_000


def test_regenerate_and_edit_make_versions_the_model_follows(qtbot, open_window,
                                                              model_paths: Paths) -> None:
    window = open_window(model_paths, max_tokens=16)
    chat, history = window.chat, window.profile.history
    with qtbot.waitSignal(chat.reply_finished, timeout=REPLY_MS):
        type_and_send(qtbot, window, "Name a fruit.")
    first_reply = view_texts(window)[1]

    with qtbot.waitSignal(chat.reply_finished, timeout=REPLY_MS):
        assert chat.regenerate(1, window.current_model_path())
    assert chat.messages.row(1).version == (2, 2)
    second_reply = view_texts(window)[1]
    conversation = chat.conversation_id
    assert [m.content for m in history.messages(conversation)] == [
        "Name a fruit.", second_reply[1]]

    assert chat.switch_version(1, -1)
    assert view_texts(window) == [("user", "Name a fruit."), first_reply]
    assert chat.messages.row(1).version == (1, 2)
    assert [m.content for m in history.messages(conversation)][-1] == first_reply[1]

    with qtbot.waitSignal(chat.reply_finished, timeout=REPLY_MS):
        assert chat.edit(0, "Name a vegetable.", window.current_model_path())
    assert view_texts(window)[0] == ("user", "Name a vegetable.")
    assert chat.messages.row(0).version == (2, 2)
    assert len(view_texts(window)) == 2 and history.message_count(conversation) == 5

    assert chat.switch_version(0, -1)   # back to the first question and its newest reply
    assert view_texts(window) == [("user", "Name a fruit."), second_reply]  # its newest reply
    assert chat.messages.row(0).version == (1, 2)

    with qtbot.waitSignal(chat.reply_finished, timeout=REPLY_MS):
        type_and_send(qtbot, window, "And another?")   # continues the branch shown
    path = history.messages(conversation)
    assert path[0].content == "Name a fruit." and len(path) == 4


def test_a_long_chat_is_read_page_by_page(qtbot, open_window, paths: Paths) -> None:
    history = Profile.open(paths).history
    conversation = history.create_conversation()
    ids = [history.add_message(conversation.id, "user" if i % 2 == 0 else "assistant",
                               f"message {i}").id for i in range(3 * PAGE + 7)]
    window = open_window(paths)
    window.chat.open_conversation(conversation.id)
    model = window.chat.messages
    assert model.rowCount() == PAGE and model.row(PAGE - 1).text == f"message {len(ids) - 1}"
    assert model.has_older()
    window.chat_view.verticalScrollBar().setValue(0)   # the user scrolls to the top
    assert model.rowCount() == 2 * PAGE
    assert model.row(0).text == f"message {len(ids) - 2 * PAGE}"
    assert window.chat_view.scroll_to_message(ids[0])
    assert model.rowCount() == len(ids) and not model.has_older()
    assert window.chat_view.currentIndex().row() == 0
