"""Help → About Hearth: the version, how llama.cpp was built, and the licences of every part."""

from __future__ import annotations

import platform
import sys

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME, __version__
from app.core import bundle, licences
from app.ui.app_icon import app_icon


def engine_description(system_info: str) -> str:
    """How this Hearth's llama.cpp was built and what the running engine reports."""
    info = bundle.build_info()
    lines = []
    if info:
        lines.append(f"llama.cpp (llama-cpp-python {info.get('llama_cpp_python', '?')}) built "
                     f"for {info.get('cpu_baseline', 'an unknown CPU baseline')}; "
                     f"GPU backend: {info.get('gpu_backend') or 'none (CPU only)'}")
    else:
        lines.append("llama.cpp built from source on this machine (optimised for this CPU)")
    lines.append(f"Engine reports: {system_info}" if system_info else
                 "The engine's CPU features are shown once a model has been loaded.")
    return "\n".join(lines)


def about_text() -> str:
    """The version line and where this Hearth runs from."""
    where = (f"Installed at {bundle.root().parent}" if bundle.is_frozen()
             else f"Running from the source checkout {bundle.root()}")
    return (f"{APP_NAME} {__version__}\nOffline, private chat with small language models.\n"
            f"{where}\nPython {platform.python_version()} on {sys.platform}")


class AboutDialog(QDialog):
    """The About box: version, engine build, and a table of bundled parts and licences."""

    def __init__(self, system_info: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        self.resize(640, 560)
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(96, 96))
        self.summary = QLabel(about_text())
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        header = QHBoxLayout()
        header.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.summary, 1)
        self.engine = QLabel(engine_description(system_info))
        self.engine.setWordWrap(True)
        self.engine.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = self._licence_table()
        open_texts = QPushButton("Open the licence texts")
        open_texts.clicked.connect(lambda _checked=False: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(licences.licences_dir()))))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(open_texts, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.engine)
        layout.addWidget(QLabel("Made with:"))
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    @staticmethod
    def _licence_table() -> QTableWidget:
        parts = licences.components() + licences.python_packages()
        table = QTableWidget(len(parts), 3)
        table.setHorizontalHeaderLabels(["Part", "Version", "Licence"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, part in enumerate(parts):
            name = QTableWidgetItem(part.name)
            name.setToolTip(part.role)
            table.setItem(row, 0, name)
            table.setItem(row, 1, QTableWidgetItem(part.version))
            table.setItem(row, 2, QTableWidgetItem(part.licence))
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        return table
