"""Model and chat settings edited in the window reach storage, validated first."""

from __future__ import annotations

from app.chat.profile import Profile
from app.core.generation_config import generation_config
from app.core.paths import Paths


def _seed_conversation(paths: Paths) -> int:
    history = Profile.open(paths).history
    conversation = history.create_conversation()
    history.add_message(conversation.id, "user", "Hello")
    return conversation.id


def test_chat_settings_are_stored_with_the_conversation(qtbot, open_window,
                                                        model_paths: Paths) -> None:
    conversation_id = _seed_conversation(model_paths)
    window = open_window(model_paths)
    window.chat.open_conversation(conversation_id)
    dialog = window.edit_chat_settings()
    dialog.editors["temperature"].setValue(0.2)
    dialog.editors["seed"].setValue(5)
    dialog.editors["system_prompt"].setPlainText("Answer like a pirate.")
    dialog.editors["context_policy"].setCurrentText("rolling")
    dialog.accept()
    stored = window.profile.history.conversation_settings(conversation_id)
    assert stored == {"temperature": 0.2, "seed": 5, "system_prompt": "Answer like a pirate.",
                      "context_policy": "rolling"}
    config = generation_config(window.profile.settings, window.current_model_path(), stored)
    assert config.sampling.seed == 5 and config.context_policy == "rolling"

    again = window.edit_chat_settings()
    assert again.editors["temperature"].value() == 0.2
    again.restore_defaults()
    again.accept()
    assert window.profile.history.conversation_settings(conversation_id) == {}


def test_a_new_chat_keeps_its_settings_until_it_is_stored(qtbot, open_window,
                                                          model_paths: Paths) -> None:
    window = open_window(model_paths)
    dialog = window.edit_chat_settings()
    dialog.editors["max_tokens"].setValue(7)
    dialog.accept()
    with qtbot.waitSignal(window.chat.reply_finished, timeout=60_000) as finished:
        window.composer.setPlainText("Say something long.")
        window.send()
    assert finished.args[0].completion_tokens <= 7
    (conversation,) = window.profile.history.conversations()
    assert window.profile.history.conversation_settings(conversation.id) == {"max_tokens": 7}


def test_model_settings_refuse_what_llama_cpp_would_reject(qtbot, open_window,
                                                           model_paths: Paths) -> None:
    window = open_window(model_paths)
    path = window.current_model_path()
    dialog = window.edit_model_settings()
    dialog.editors["type_v"].setCurrentText("q8_0")
    dialog.accept()
    assert dialog.isVisible() and "flash attention" in dialog.error.text()
    assert window.profile.settings.model_overrides(path) == {}

    dialog.editors["flash_attn"].setChecked(True)
    dialog.editors["n_ctx"].setValue(1024)
    with qtbot.waitSignal(window.bridge.loaded, timeout=60_000,
                          check_params_cb=lambda event: event.n_ctx == 1024):
        dialog.accept()   # the model is loaded again with its new settings
    assert window.profile.settings.model_overrides(path) == {
        "type_v": "q8_0", "flash_attn": True, "n_ctx": 1024}
