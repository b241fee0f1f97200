"""BackgroundOp: typed results, the count of running ops, and what quitting does with them."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QApplication

from app.core.paths import Paths
from app.ui import background, main_window
from app.ui.background import BackgroundOp


@pytest.fixture(autouse=True)
def _nothing_running(qtbot) -> None:
    """Ops left by an earlier test end first (the count is the whole app's)."""
    qtbot.waitUntil(lambda: background.running_count() == 0, timeout=10_000)


def test_the_result_is_typed_and_running_ops_are_counted(qtbot) -> None:
    release = threading.Event()

    def answer() -> int:
        release.wait(10)
        return 42

    results: list[int] = []
    op: BackgroundOp[int] = BackgroundOp[int](answer)
    op.success(results.append).run_in_background()
    BackgroundOp[str](release.wait, 10).success(lambda _ok: None).run_in_background()
    assert background.running_count() == 2
    with qtbot.waitSignal(background.running_ops().idle, timeout=5000):
        release.set()
    assert results == [42]  # the callbacks ran before the count said "idle"
    assert background.running_count() == 0


def test_finishing_cancels_waits_and_drops_the_callbacks(qtbot) -> None:
    cancel = threading.Event()
    returned = threading.Event()
    called: list[object] = []

    def copy() -> str:
        cancel.wait(30)  # a long copy that checks its flag
        returned.set()
        return "stopped"

    BackgroundOp[str](copy).with_cancel(cancel).success(called.append) \
        .failure(called.append).run_in_background()
    assert background.finish_running(10.0)
    assert cancel.is_set() and returned.is_set()
    QApplication.processEvents()  # the op's result was posted before it returned: dropped
    assert called == []


def test_closing_the_window_waits_for_running_work(qtbot, open_window, paths: Paths) -> None:
    window = open_window(paths)
    qtbot.waitUntil(lambda: background.running_count() == 0, timeout=10_000)
    returned = threading.Event()

    def write_something() -> None:  # half a second of work that cannot be cancelled
        threading.Event().wait(0.5)
        returned.set()

    BackgroundOp[None](write_something).run_in_background()
    window.close()
    assert returned.is_set()  # close waited for it


@pytest.mark.allow_warnings
def test_closing_waits_a_bounded_time_and_cancels_first(
        qtbot, open_window, paths: Paths, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    window = open_window(paths)
    qtbot.waitUntil(lambda: background.running_count() == 0, timeout=10_000)
    monkeypatch.setattr(main_window, "QUIT_WAIT_S", 0.2)
    cancel, stuck, returned = threading.Event(), threading.Event(), threading.Event()

    def cancellable() -> None:
        cancel.wait(30)
        returned.set()

    BackgroundOp[None](cancellable).with_cancel(cancel).run_in_background()
    BackgroundOp[bool](stuck.wait, 30).run_in_background()  # knows no cancel flag
    window.close()  # returns after 0.2 s though one op still runs
    assert cancel.is_set() and returned.is_set()
    assert background.running_count() == 1
    assert "still running" in caplog.text
    with qtbot.waitSignal(background.running_ops().idle, timeout=5000):
        stuck.set()
