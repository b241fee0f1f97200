"""Fixtures for the real window on a temporary profile."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt

from app.chat.profile import Profile
from app.core.paths import Paths
from app.ui.main_window import MainWindow

WindowFactory = Callable[..., MainWindow]


@pytest.fixture
def open_window(qtbot) -> Iterator[WindowFactory]:
    """Opens MainWindows on a profile; closes them (and their engines) afterwards."""
    opened: list[MainWindow] = []

    def factory(paths: Paths, max_tokens: int = 64, **kwargs) -> MainWindow:
        profile = Profile.open(paths)
        profile.settings.set("max_tokens", max_tokens)
        profile.settings.set("n_ctx", 2048)
        window = MainWindow(profile, fetch_starter=False, **kwargs)
        qtbot.addWidget(window)
        window.show()
        opened.append(window)
        return window

    yield factory
    for window in opened:
        window.close()


def type_and_send(qtbot, window: MainWindow, text: str) -> None:
    """Type ``text`` in the composer and press Enter, as a user would."""
    window.composer.setFocus()
    qtbot.keyClicks(window.composer, text)
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)


def view_texts(window: MainWindow) -> list[tuple[str, str]]:
    """(role, text) of every message the chat view shows."""
    model = window.chat.messages
    return [(model.row(i).role, model.row(i).text) for i in range(model.rowCount())]
