"""Starting the window: the QApplication, the profile, the crash dialog."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from app import APP_NAME, __version__
from app.chat.profile import Profile
from app.core.paths import Paths
from app.ui import crash_dialog
from app.ui.main_window import MainWindow


def run_gui(paths: Paths, model_path: str | None = None) -> int:
    """Open the main window on ``paths`` and run until it closes."""
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    crash_dialog.install()
    profile = Profile.open(paths)
    window = MainWindow(profile, model_path=model_path)
    window.show()
    return app.exec()
