"""Starting the window: the QApplication, the profile, the crash dialog."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable

from PySide6.QtCore import QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication, QLabel

from app import APP_NAME, __version__
from app.chat.profile import Profile
from app.core import bundle
from app.core.paths import Paths
from app.ui import crash_dialog
from app.ui.app_icon import app_icon
from app.ui.main_window import MainWindow
from app.ui.qt_binding import check_qt_binding

log = logging.getLogger(__name__)


def open_window(paths: Paths, model_path: str | None = None, fetch_starter: bool = True,
                binding_probe: Callable[[], object] | None = None) -> MainWindow:
    """Create the QApplication (once) and show the main window on ``paths``.

    ``binding_probe`` is the void Qt call used to check the Qt binding (tests only).
    """
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    QApplication.setWindowIcon(app_icon())
    QApplication.setDesktopFileName(bundle.DESKTOP_ID)  # Wayland finds the icon through the entry
    crash_dialog.install()
    binding_problem = check_qt_binding(binding_probe)  # before the window's first Qt calls
    window = MainWindow(Profile.open(paths), model_path=model_path,
                        fetch_starter=fetch_starter)
    if binding_problem:
        _warn_lastingly(window, binding_problem)
    _report_settings_problems(window)
    window.show()
    return window


def _report_settings_problems(window: MainWindow) -> None:
    """Say once, in the banner, which settings could not be used (``Settings.problems``)."""
    problems = window.profile.settings.problems
    if not problems:
        return
    text = f"Some settings could not be used ({window.profile.paths.settings_path}):\n" + \
        "\n".join(f"• {problem}" for problem in problems)
    if not window.banner.isHidden():  # keep what the window already had to say
        text = f"{window.banner.label.text()}\n\n{text}"
    window.banner.show_message(text)


def _warn_lastingly(window: MainWindow, text: str) -> None:
    """Show ``text`` in the banner now, and a short form in the status bar for good."""
    window.banner.show_message(text)
    lasting = QLabel("⚠ Faulty Qt for Python: run scripts/setup")
    lasting.setObjectName("qt-binding-warning")
    lasting.setToolTip(text)
    window.statusBar().addPermanentWidget(lasting)


def close_on_signals(window: MainWindow) -> None:
    """Close the window, as the user would, on SIGTERM (a logout, ``kill``) or SIGINT.

    Python runs a signal handler only between bytecodes, and Qt's event loop runs none while
    it waits; the wakeup pipe wakes it, and the handler asks the window to close, so the
    history is saved and the engines stop as after a click on the close button.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    notifier = QSocketNotifier(read_fd, QSocketNotifier.Type.Read, window)

    def drain() -> None:
        with contextlib.suppress(OSError):
            os.read(read_fd, 512)

    notifier.activated.connect(drain)
    signal.set_wakeup_fd(write_fd)
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda _n, _f: QTimer.singleShot(0, window.close))


def run_gui(paths: Paths, model_path: str | None = None) -> int:
    """Open the main window on ``paths`` and run until it closes."""
    window = open_window(paths, model_path)
    if sys.platform != "win32":
        close_on_signals(window)
    app = QApplication.instance()
    assert app is not None  # open_window made it
    log.info("Main window shown")
    code = app.exec()
    del window
    return code
