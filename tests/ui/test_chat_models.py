"""Each chat has its model; the default for new chats changes only when the user says so."""

from __future__ import annotations

import os

from app.chat.profile import Profile
from app.core.paths import Paths
from app.storage.schema import MessageStatus
from app.ui.main_window import MainWindow
from tests.ui.conftest import type_and_send


def _pick(window: MainWindow, path: str) -> None:
    """Choose ``path`` in the model picker, as a user would."""
    row = window.models.row_of(path)
    assert row is not None, path
    window.model_picker.setCurrentIndex(row)


def _reply(qtbot, window: MainWindow, text: str) -> None:
    with qtbot.waitSignal(window.chat.reply_finished, timeout=120000):
        type_and_send(qtbot, window, text)


def _model_of(window: MainWindow, conversation_id: int) -> str | None:
    info = window.profile.history.conversation(conversation_id)
    return info.model_path if info else None


def _recorded_loads(window: MainWindow) -> list[str]:
    loads: list[str] = []
    client = window.bridge.client
    real_load = client.load
    client.load = lambda spec: loads.append(spec.path) or real_load(spec)
    return loads


def _second_model(paths: Paths, model_path: str) -> str:
    """Another model in the library (the starter's file under a second name), the starter
    being the default for new chats."""
    other = str(paths.models_dir / "another-model.gguf")
    os.link(model_path, other)
    Profile.open(paths).settings.set("default_model", model_path)
    return other


def test_each_chat_keeps_its_model_and_the_default_changes_only_when_asked(
        qtbot, open_window, model_paths: Paths, model_path: str) -> None:
    other = _second_model(model_paths, model_path)
    window = open_window(model_paths, max_tokens=8)
    settings = window.profile.settings
    assert window.current_model_path() == model_path

    _pick(window, other)                       # a new chat, given another model
    _reply(qtbot, window, "Hello")
    first = window.chat.conversation_id
    assert _model_of(window, first) == other
    assert settings.get("default_model") == model_path   # picking is not a new default

    window.new_chat()                          # new chats start with the default
    assert window.current_model_path() == model_path
    _reply(qtbot, window, "Hi there")
    second = window.chat.conversation_id
    assert _model_of(window, second) == model_path

    window.chat.open_conversation(first)       # the picker follows the open chat
    assert window.current_model_path() == other
    _pick(window, model_path)                  # ... and changes only that chat
    assert _model_of(window, first) == model_path
    assert _model_of(window, second) == model_path
    _pick(window, other)
    window.chat.open_conversation(second)
    assert window.current_model_path() == model_path
    assert settings.get("default_model") == model_path

    loads = _recorded_loads(window)            # "Use for new chats" touches no open chat
    page = window.open_model_manager().library_page
    assert page.select_path(other)
    page.make_default()
    assert settings.get("default_model") == other
    assert window.current_model_path() == model_path and loads == []
    assert _model_of(window, second) == model_path
    window.new_chat()
    assert window.current_model_path() == other

    window.chat.open_conversation(second)      # the menu's way says so too
    window.use_model_for_new_chats()
    assert settings.get("default_model") == model_path


def test_a_model_given_for_one_session_is_not_the_new_default(
        qtbot, open_window, model_paths: Paths, model_path: str, tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere.gguf"          # used where it lies, as --model does
    os.link(model_path, elsewhere)
    Profile.open(model_paths).settings.set("default_model", model_path)
    window = open_window(model_paths, max_tokens=8, model_path=str(elsewhere))
    assert window.current_model_path() == str(elsewhere)
    _reply(qtbot, window, "Hello")
    assert _model_of(window, window.chat.conversation_id) == str(elsewhere)
    window.new_chat()                                # new chats of this session use it
    assert window.current_model_path() == str(elsewhere)
    window.close()

    again = open_window(model_paths, max_tokens=8)   # the next session: the user's default
    assert again.profile.settings.get("default_model") == model_path
    assert again.current_model_path() == model_path


def test_a_chat_whose_model_is_gone_says_so_and_replies_with_the_one_shown(
        qtbot, open_window, model_paths: Paths, model_path: str) -> None:
    window = open_window(model_paths, max_tokens=8)
    history = window.profile.history
    gone = history.create_conversation(model_path="/nowhere/removed-model.gguf").id
    window.chat.open_conversation(gone)
    assert window.current_model_path() == model_path
    assert "removed-model.gguf" in window.statusBar().currentMessage()
    _reply(qtbot, window, "Hello")
    assert _model_of(window, gone) == model_path


def test_switching_models_during_a_reply_takes_effect_after_it(
        qtbot, open_window, model_paths: Paths, model_path: str) -> None:
    other = _second_model(model_paths, model_path)
    window = open_window(model_paths, max_tokens=300)
    window.profile.settings.set("temperature", 0.0)  # greedy: it counts on and on
    window.bridge.client.memory_budget_bytes = 1     # only one model fits at a time
    qtbot.waitUntil(lambda: window.bridge.client.loaded_models() == [model_path],
                    timeout=60000)
    loads = _recorded_loads(window)
    with qtbot.waitSignal(window.chat.busy_changed, timeout=10000):
        type_and_send(qtbot, window, "Count from 1 to 400, separated by commas.")
    qtbot.waitUntil(lambda: window.chat.messages.row(1).text != "", timeout=120000)
    assert window.chat.busy
    _pick(window, other)
    assert loads == []                               # nothing loads while it writes
    assert "when this reply ends" in window.statusBar().currentMessage()
    assert _model_of(window, window.chat.conversation_id) == other
    with qtbot.waitSignal(window.chat.reply_finished, timeout=120000) as finished:
        pass
    assert finished.args[0].stop_reason in ("end", "length")   # it was not cut off
    assert window.chat.messages.row(1).status == MessageStatus.COMPLETE
    assert loads == [other]                          # then the switch takes effect
    qtbot.waitUntil(lambda: window.bridge.client.loaded_models() == [other], timeout=60000)
