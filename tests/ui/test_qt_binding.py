"""The Qt binding must not lose references to None (PySide6 6.12.0 on CPython 3.11 does).

The first test runs the installed binding as it is, in a child process: on an affected
combination it aborts or reports lost references, so it fails. The others prove that an
environment installed before the pin is made safe at start, using a call that loses a
reference to None exactly as the faulty binding does.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from PySide6.QtWidgets import QLabel

from app.core.paths import Paths
from app.ui import qt_binding
from app.ui.application import open_window

VOID_CALLS = 100_000

_VOID_QT_CALLS = textwrap.dedent(f"""
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QObject, QTimer
    from PySide6.QtGui import QTextCursor, QTextDocument
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication([])
    widget, document, timer, item = QWidget(), QTextDocument(), QTimer(), QObject()
    cursor = QTextCursor(document)
    calls = [widget.update, lambda: widget.setToolTip("tip"), timer.stop,
             lambda: item.setObjectName("name"), lambda: cursor.insertText("a"),
             item.parent]   # the last returns None itself
    for call in calls:
        call()
    before = sys.getrefcount(None)
    for number in range({VOID_CALLS}):
        calls[number % len(calls)]()
        if number % 1000 == 999:
            document.clear()
    print(before - sys.getrefcount(None))
""")

# A call that loses one reference to None, as every void call of the faulty binding does.
_LEAKY_CALL = textwrap.dedent("""
    import ctypes
    decref = ctypes.pythonapi.Py_DecRef
    decref.argtypes = [ctypes.py_object]
    def leaky_call():
        decref(None)
""")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=240)


def test_void_qt_calls_keep_every_reference_to_none() -> None:
    result = _run(_VOID_QT_CALLS)
    assert result.returncode == 0, f"the binding aborted the interpreter: {result.stderr}"
    lost = int(result.stdout.strip())
    assert lost <= 16, f"{VOID_CALLS:,} void Qt calls lost {lost:,} references to None"


@pytest.mark.skipif(qt_binding.none_is_immortal(), reason="None is immortal on this Python")
def test_the_simulated_fault_does_abort_an_unguarded_process() -> None:
    # Without this the guard test below could pass for the wrong reason.
    result = _run(_LEAKY_CALL + "\nfor _ in range(200_000):\n    leaky_call()\n")
    assert result.returncode != 0 and "none_dealloc" in result.stderr


@pytest.mark.skipif(qt_binding.none_is_immortal(), reason="None is immortal on this Python")
def test_a_leaking_binding_is_detected_and_cannot_abort_the_app() -> None:
    code = _LEAKY_CALL + textwrap.dedent("""
        import os
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from app.ui.qt_binding import check_qt_binding
        print(check_qt_binding(leaky_call))
        for _ in range(200_000):   # more than None ever had
            leaky_call()
        print("survived")
    """)
    result = _run(code)
    assert result.returncode == 0, result.stderr
    warning, survived = result.stdout.strip().splitlines()
    assert "faulty on Python" in warning and "scripts/setup" in warning
    assert survived == "survived"
    assert "loses a reference to None" in result.stderr   # logged (stderr: no log file)


def test_a_sound_binding_gives_no_warning() -> None:
    assert qt_binding.lost_none_references() == 0
    assert qt_binding.check_qt_binding() is None


@pytest.mark.allow_warnings
def test_the_window_shows_the_warning_in_one_line(qtbot, paths: Paths) -> None:
    def leaky_call() -> None:   # loses a reference to None (harmless once None is immortal)
        import ctypes
        ctypes.pythonapi.Py_DecRef(ctypes.py_object(None))

    if qt_binding.none_is_immortal():
        pytest.skip("None is immortal on this Python")
    window = open_window(paths, fetch_starter=False, binding_probe=leaky_call)
    qtbot.addWidget(window)
    try:
        text = window.banner.label.text()
        assert window.banner.isVisible() and "\n" not in text
        assert "faulty" in text and "scripts/setup" in text
        # The banner goes with the next message; the status bar keeps a short form.
        lasting = window.findChild(QLabel, "qt-binding-warning")
        assert lasting is not None and lasting.isVisible()
        assert "scripts/setup" in lasting.text() and lasting.toolTip() == text
    finally:
        window.close()
