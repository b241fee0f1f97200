"""Help → About: the version, how llama.cpp was built, and every part's licence."""

from __future__ import annotations

from app import __version__
from app.core.paths import Paths
from app.ui.app_icon import app_icon
from tests.ui.conftest import type_and_send


def test_about_shows_version_engine_build_and_licences(qtbot, open_window,
                                                       model_paths: Paths) -> None:
    window = open_window(model_paths, max_tokens=4)
    before = window.show_about()
    assert f"Hearth {__version__}" in before.summary.text()
    assert "shown once a model has been loaded" in before.engine.text()
    names = [before.table.item(row, 0).text() for row in range(before.table.rowCount())]
    licences = {before.table.item(row, 0).text(): before.table.item(row, 2).text()
                for row in range(before.table.rowCount())}
    assert any(n.startswith("SmolLM2") and licences[n] == "Apache-2.0" for n in names)
    assert "llama.cpp / ggml" in names and "SQLAlchemy" in names
    before.close()
    with qtbot.waitSignal(window.chat.reply_finished, timeout=120000):
        type_and_send(qtbot, window, "Hi")
    after = window.show_about()
    assert "Engine reports: CPU :" in after.engine.text()   # llama.cpp's own system info
    assert "AVX" in after.engine.text()
    after.close()


def test_the_app_icon_has_every_size(qtbot) -> None:
    icon = app_icon()
    assert not icon.isNull()
    for size in (16, 32, 48, 256, 512):
        image = icon.pixmap(size, size).toImage()
        assert image.width() == size
        assert image.pixelColor(size // 2, size // 2).alpha() == 255  # drawn, not empty
