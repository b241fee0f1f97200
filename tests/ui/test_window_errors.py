"""Bad input in the window: clear messages, nothing lost, nothing half-sent."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from app.core.paths import Paths
from tests.ui.conftest import type_and_send, view_texts

REPLY_TIMEOUT_MS = 60_000


def test_sending_without_a_model_sends_nothing(qtbot, open_window, paths: Paths) -> None:
    window = open_window(paths)
    assert window.model_picker.currentIndex() == -1
    with qtbot.waitSignal(window.chat.error_occurred, timeout=2000) as error:
        type_and_send(qtbot, window, "Hello?")
    assert "Choose a model" in error.args[0]
    assert window.banner.isVisible() and "Choose a model" in window.banner.label.text()
    assert window.composer.toPlainText() == "Hello?"     # the text is not lost
    assert window.profile.history.conversations() == []
    assert view_texts(window) == []
    assert window.bridge.client.pid is None               # no engine was even started


def test_a_model_file_deleted_under_us_is_reported(qtbot, open_window,
                                                   model_paths: Paths,
                                                   model_path: str) -> None:
    window = open_window(model_paths)
    with qtbot.waitSignal(window.chat.reply_finished, timeout=REPLY_TIMEOUT_MS):
        type_and_send(qtbot, window, "Say hello.")
    before = view_texts(window)
    os.remove(model_path)
    with qtbot.waitSignal(window.chat.error_occurred, timeout=2000) as error:
        type_and_send(qtbot, window, "Still there?")
    assert "does not exist" in error.args[0]
    assert window.composer.toPlainText() == "Still there?"
    assert view_texts(window) == before
    (conversation,) = window.profile.history.conversations()
    assert len(window.profile.history.messages(conversation.id)) == 2


@pytest.fixture
def broken_model(model_paths: Paths, model_path: str) -> Path:
    """A GGUF with a valid header whose tensor data is cut off, next to the good model."""
    broken = model_paths.models_dir / "Broken-Model.gguf"
    with open(model_path, "rb") as source, broken.open("wb") as target:
        shutil.copyfileobj(source, target, 1 << 20)
        target.truncate(4_000_000)
    return broken


def test_a_damaged_model_gives_a_clear_error_and_the_chat_goes_on(
        qtbot, open_window, model_paths: Paths, broken_model: Path, model_path: str) -> None:
    window = open_window(model_paths)
    with qtbot.waitSignal(window.bridge.error, timeout=30_000) as preload:
        window.model_picker.setCurrentIndex(window.models.row_of(str(broken_model)))
    assert "is incomplete" in preload.args[2]
    assert window.banner.isVisible()

    with qtbot.waitSignal(window.chat.error_occurred, timeout=30_000) as error:
        type_and_send(qtbot, window, "Hello broken model")
    assert "is incomplete" in error.args[0] and "Broken-Model.gguf" in error.args[0]
    (conversation,) = window.profile.history.conversations()
    assert [m.content for m in window.profile.history.messages(conversation.id)] == [
        "Hello broken model"]

    window.model_picker.setCurrentIndex(window.models.row_of(model_path))
    with qtbot.waitSignal(window.chat.reply_finished, timeout=REPLY_TIMEOUT_MS):
        type_and_send(qtbot, window, "And now?")
    assert [m.role for m in window.profile.history.messages(conversation.id)] == [
        "user", "user", "assistant"]


@pytest.mark.allow_warnings
def test_settings_that_cannot_be_used_are_named_once_in_the_banner(qtbot,
                                                                  paths: Paths) -> None:
    from app.ui.application import open_window as open_app_window

    paths.settings_path.write_text(
        '{"top_k": "many", "models": {"/m/a.gguf": {"n_ctx": -5, "n_threads": 2}}}',
        encoding="utf-8")
    window = open_app_window(paths, fetch_starter=False)
    qtbot.addWidget(window)
    try:
        text = window.banner.label.text()
        assert window.banner.isVisible() and str(paths.settings_path) in text
        assert "'top_k'" in text and "'n_ctx'" in text and "a.gguf" in text
        assert window.profile.settings.model_overrides("/m/a.gguf") == {"n_threads": 2}
    finally:
        window.close()
