"""The manager's Library tab: every model file, what it is, whether it fits, and its actions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import HearthError
from app.core.fit import Fit
from app.core.library import LibraryModel, ModelLibrary
from app.core.model_import import ImportCancelled
from app.core.settings import Settings
from app.core.units import human_size
from app.ui.background import BackgroundOp
from app.ui.error_banner import ErrorBanner
from app.ui.library_scanner import LibraryScan, LibraryScanner
from app.ui.library_table_model import LibraryTableModel
from app.ui.model_details import describe_model

_UNDELETABLE = {
    "folder": "Files in a linked folder belong to that folder; Hearth does not delete them",
    "builtin": "This model comes with Hearth; it is removed when Hearth is uninstalled",
}


class LibraryPage(QWidget):
    """The library table with import, link, rename, default, settings and delete.

    It shows the window's library scans (``LibraryScanner``): a change here asks for a
    rescan, which the model picker receives too.

    Signals:
        library_changed(): the library was scanned again (after files were added, removed
            or renamed); the table and the model picker show the new scan.
        settings_requested(str): the user wants to edit this model's settings (its path).
    """

    library_changed = Signal()
    settings_requested = Signal(str)

    def __init__(self, library: ModelLibrary, scanner: LibraryScanner, settings: Settings,
                 assess: Callable[[LibraryModel], Fit | None],
                 loaded: Callable[[], list[str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library, self.settings, self._loaded = library, settings, loaded
        self.scanner = scanner
        self._select: str | None = None  # the model to select when the next scan arrives
        self.add_question: QMessageBox | None = None
        self._copies: set[threading.Event] = set()  # the cancel flags of running copies
        self.table_model = LibraryTableModel(assess, self)
        self._build()
        self.setAcceptDrops(True)  # GGUF files dropped here are added like "Add file…"
        self._show(scanner.latest)
        scanner.scanned.connect(self._scanned)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_models(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for path in self._dropped_models(event.mimeData()):
            self.add_file(path)
        event.acceptProposedAction()

    @staticmethod
    def _dropped_models(mime: QMimeData) -> list[str]:
        return [url.toLocalFile() for url in mime.urls()
                if url.isLocalFile() and url.toLocalFile().lower().endswith(".gguf")]

    def _build(self) -> None:
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.hardware_label = QLabel()
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.problems_label = QLabel()
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color: #b26a00")
        self.banner = ErrorBanner()
        self.stop_copy_button = QPushButton("Stop copying")
        self.stop_copy_button.hide()
        self.add_button = QPushButton("Add file…")
        self.add_button.setToolTip("Add a GGUF file (or drop one here): copied into the "
                                   "library, or used where it is")
        self.link_button = QPushButton("Link folder…")
        self.unlink_button = QPushButton("Unlink folder")
        self.rename_button = QPushButton("Rename…")
        self.default_button = QPushButton("Use for new chats")
        self.settings_button = QPushButton("Settings…")
        self.delete_button = QPushButton("Delete…")
        top = QHBoxLayout()
        top.addWidget(self.hardware_label, 1)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.link_button, self.unlink_button,
                       self.stop_copy_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        for button in (self.rename_button, self.default_button, self.settings_button,
                       self.delete_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.details, 1)
        layout.addLayout(buttons)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._show_current())
        self.add_button.clicked.connect(lambda: self.add_file())
        self.stop_copy_button.clicked.connect(self.stop_copying)
        self.link_button.clicked.connect(lambda: self.link_folder())
        self.unlink_button.clicked.connect(self.unlink_folder)
        self.rename_button.clicked.connect(lambda: self.rename())
        self.default_button.clicked.connect(self.make_default)
        self.settings_button.clicked.connect(self._request_settings)
        self.delete_button.clicked.connect(lambda: self.delete())

    # -- reading ---------------------------------------------------------------------
    def reload(self, select: str | None = None) -> None:
        """Scan the library again (in the background) and show it, selecting ``select``."""
        self._select = select or self._select
        self.scanner.rescan()

    def _scanned(self, scan: LibraryScan) -> None:
        self._show(scan)
        self.library_changed.emit()

    def _show(self, scan: LibraryScan) -> None:
        current = self._select or self.current_path() or self.settings.get("default_model")
        self._select = None
        self.table_model.set_models(scan.models)
        self.problems_label.setText("\n".join(scan.problems))
        self.problems_label.setVisible(bool(scan.problems))
        row = self.table_model.row_of(current) if current else None
        if row is None and self.table_model.rowCount():
            row = 0
        if row is not None:
            self.table.selectRow(row)
        self._show_current()

    def set_hardware_text(self, text: str) -> None:
        """Show what the estimate compares against (free RAM, VRAM)."""
        self.hardware_label.setText(text)

    def current(self) -> LibraryModel | None:
        """The selected model."""
        return self.table_model.model_at(self.table.currentIndex().row())

    def current_path(self) -> str | None:
        """Path of the selected model."""
        model = self.current()
        return str(model.path) if model else None

    def select_path(self, path: str) -> bool:
        """Select the model at ``path``; False when it is not in the library."""
        row = self.table_model.row_of(path)
        if row is not None:
            self.table.selectRow(row)
        return row is not None

    def _show_current(self) -> None:
        model = self.current()
        row = self.table.currentIndex().row()
        default = self.settings.get("default_model")
        self.details.setText(describe_model(model, self.table_model.fit_at(row),
                                            is_default=bool(model) and str(model.path) == default)
                             if model else "No model files yet. Add one, link a folder, or "
                             "download one from the Discover tab.")
        usable = model is not None and not model.error
        for button in (self.rename_button, self.default_button, self.settings_button):
            button.setEnabled(usable)
        if model is not None and usable and str(model.path) == default:
            self.default_button.setEnabled(False)  # it is already
        self.delete_button.setEnabled(model is not None
                                      and model.source not in ("folder", "builtin"))
        self.delete_button.setToolTip(_UNDELETABLE.get(model.source, "") if model else "")
        self.delete_button.setText("Remove link…" if model and model.source == "file"
                                   else "Delete…")
        self.unlink_button.setEnabled(model is not None and model.source == "folder")

    # -- changing --------------------------------------------------------------------
    def add_file(self, path: str | None = None, mode: str | None = None) -> None:
        """Add a GGUF file: copied into the library, or used where it is."""
        if path is None:
            path, _filter = QFileDialog.getOpenFileName(self, "Add a model file", "",
                                                        "GGUF models (*.gguf)")
            if not path:
                return
        if mode is None:
            self._ask_how_to_add(path)
            return
        if mode == "link":
            self._run(lambda: self.library.import_file(Path(path), "link"))
            return
        cancel = threading.Event()

        def copied(new: Path) -> None:
            self._copy_ended(cancel)
            self._changed(str(new))

        def failed(error: BaseException) -> None:
            self._copy_ended(cancel)
            self._failed(error)

        self.details.setText(f"Copying {Path(path).name}…")
        self._copies.add(cancel)
        self.stop_copy_button.show()
        BackgroundOp[Path](self._copy, Path(path), cancel) \
            .with_cancel(cancel) \
            .with_progress(lambda done: self.details.setText(
                f"Copying {Path(path).name}: {human_size(done[0])} of {human_size(done[1])}")) \
            .success(copied) \
            .failure(failed) \
            .run_in_background()

    def _copy_ended(self, cancel: threading.Event) -> None:
        self._copies.discard(cancel)
        self.stop_copy_button.setVisible(bool(self._copies))

    def stop_copying(self) -> None:
        """Stop the imports being copied (nothing of them stays in the library)."""
        for cancel in self._copies:
            cancel.set()

    def _ask_how_to_add(self, path: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, "Add a model file",
                          f"Copy {Path(path).name} into Hearth's library, or use it where "
                          "it is?", parent=self)
        copy = box.addButton("Copy into library", QMessageBox.ButtonRole.AcceptRole)
        link = box.addButton("Use where it is", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)

        def clicked(button: QAbstractButton) -> None:
            if button in (copy, link):
                self.add_file(path, "copy" if button is copy else "link")

        box.buttonClicked.connect(clicked)
        self.add_question = box  # kept for tests; it closes itself
        box.open()

    def _copy(self, source: Path, cancel: threading.Event,
              progress: Callable[[object], None]) -> Path:
        return self.library.import_file(source, "copy", cancel=cancel,
                                        progress=lambda done, total: progress((done, total)))

    def link_folder(self, folder: str | None = None) -> None:
        """Use every GGUF file in a folder (and its sub-folders) where it is."""
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Link a folder of models")
            if not folder:
                return
        self.details.setText(f"Reading the models in {folder}…")
        # The first look at a folder reads every model's header: not on the GUI thread,
        # and without the library (which the window scans meanwhile).
        BackgroundOp(ModelLibrary.read_folder, Path(folder)) \
            .success(lambda known: self._run(
                lambda: self.library.link_folder(Path(folder), known=known))) \
            .failure(self._failed) \
            .run_in_background()

    def unlink_folder(self) -> None:
        """Stop using the linked folder that holds the selected model (its files stay)."""
        model = self.current()
        folder = None if model is None else next(
            (f for f in self.library.linked_folders if model.path.is_relative_to(f)), None)
        if folder is not None:
            self._run(lambda: self.library.unlink_folder(folder))

    def rename(self, name: str | None = None) -> None:
        """Give the selected model a display name (empty: its file name)."""
        model = self.current()
        if model is None:
            return
        if name is None:
            name, ok = QInputDialog.getText(self, "Rename model", "Name shown for this model:",
                                            text=model.name)
            if not ok:
                return
        self.settings.set_model_override(str(model.path), "display_name",
                                         name.strip() or None)
        self._changed(str(model.path))

    def make_default(self) -> None:
        """Use the selected model for new chats."""
        if (model := self.current()) is not None:
            self.settings.set("default_model", str(model.path))
            self._changed(str(model.path))

    def delete(self, confirmed: bool = False) -> None:
        """Delete the selected model's file(s) after confirmation (refused while loaded)."""
        model = self.current()
        if model is None:
            return
        linked = model.source == "file"
        if not confirmed:
            what = (f"Stop using {model.path}? The file itself is not deleted." if linked else
                    f"Delete {model.name} ({human_size(model.size)}) from your disk?\n"
                    f"{model.path}")
            answer = QMessageBox.question(self, "Remove link" if linked else "Delete model",
                                          what)
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._run(lambda: self.library.delete(model, loaded=[Path(p) for p in self._loaded()]))

    def _request_settings(self) -> None:
        if (path := self.current_path()) is not None:
            self.settings_requested.emit(path)

    def _run(self, change: Callable[[], object]) -> None:
        try:
            result = change()
        except HearthError as exc:
            self._failed(exc)
            return
        self._changed(str(result) if isinstance(result, Path) else None)

    def _persist_links(self) -> None:
        self.settings.set("library_folders", [str(f) for f in self.library.linked_folders])
        self.settings.set("library_files", [str(f) for f in self.library.linked_files])

    def _changed(self, select: str | None = None) -> None:
        self.banner.hide()
        self._persist_links()
        self.reload(select)  # library_changed follows with the new scan

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, ImportCancelled):
            self._show_current()
            return
        if not isinstance(error, HearthError):
            raise error
        self._show_current()
        self.banner.show_message(str(error))
