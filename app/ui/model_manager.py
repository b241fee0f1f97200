"""The model manager window: Library, Discover (Hugging Face) and Downloads tabs."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QTabWidget, QVBoxLayout, QWidget

from app.chat.profile import Profile
from app.core.download_job import jobs_for
from app.core.errors import HearthError
from app.core.fit import Fit, Hardware, detect_hardware, hardware_text, probe_gpu
from app.core.gguf_info import GGUFInfo
from app.core.hub import HubFile
from app.core.library import LibraryModel
from app.core.model_fit import fit_of_file, fit_of_model
from app.ui.background import BackgroundOp
from app.ui.download_runner import DownloadRunner
from app.ui.downloads_page import DownloadsPage
from app.ui.hub_page import HubPage
from app.ui.library_page import LibraryPage
from app.ui.library_scanner import LibraryScanner


class ModelManager(QDialog):
    """Where models are found, downloaded, checked against this computer and configured.

    Fit labels are made against free RAM until the GPU's memory is known (``nvidia-smi``
    is asked once, in the background), then made again.

    Signals:
        library_changed(): the library was scanned again after a change.
    """

    library_changed = Signal()

    def __init__(self, profile: Profile, runner: DownloadRunner, scanner: LibraryScanner,
                 loaded: Callable[[], list[str]], edit_settings: Callable[[str], object],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(980, 640)
        self.profile, self.runner = profile, runner
        self.hardware: Hardware = detect_hardware(wait_for_gpu=False)
        self.library_page = LibraryPage(profile.library, scanner, profile.settings,
                                        self._fit_of_model, loaded, self)
        self.hub_page = HubPage(profile.hub_client, self._fit_of_file,
                                profile.paths.config_dir, profile.paths.models_dir, self)
        self.downloads_page = DownloadsPage(runner, self)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.library_page, "Library")
        self.tabs.addTab(self.hub_page, "Discover")
        self.tabs.addTab(self.downloads_page, "Downloads")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        self.library_page.set_hardware_text(hardware_text(self.hardware))
        self.library_page.library_changed.connect(self.library_changed)
        self.library_page.settings_requested.connect(edit_settings)
        self.hub_page.download_requested.connect(self.download)
        runner.file_ready.connect(self._file_ready)
        self.tabs.currentChanged.connect(self._tab_changed)
        if not self.hardware.gpu_known:  # joins the probe the window started, if it runs
            BackgroundOp[object](probe_gpu) \
                .success(lambda _gpu: self.refresh_hardware()) \
                .run_in_background()

    def refresh_hardware(self) -> None:
        """Measure free memory again and re-assess every model (and the hub's files)."""
        self.hardware = detect_hardware(wait_for_gpu=False)
        self.library_page.set_hardware_text(hardware_text(self.hardware))
        self.library_page.table_model.refit()
        self.hub_page.refit()

    def download(self, hub_file: HubFile) -> list[str]:
        """Queue every part of ``hub_file``; show the Downloads tab. Returns the job ids."""
        try:
            ids = [job.id for job in self.runner.add(jobs_for(hub_file))]
        except HearthError as exc:
            self.hub_page.banner.show_message(str(exc))
            return []
        if ids:
            self.tabs.setCurrentWidget(self.downloads_page)
            self.downloads_page.select(ids[0])
        return ids

    def _fit_of_model(self, model: LibraryModel) -> Fit | None:
        return fit_of_model(model, self.profile.settings, self.hardware)

    def _fit_of_file(self, hub_file: HubFile, info: GGUFInfo | None) -> Fit:
        return fit_of_file(hub_file, info, self.profile.settings, self.hardware)

    def _file_ready(self, path: str) -> None:
        self.library_page.reload(path)  # the same scan as the window's (one per turn)

    def _tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.hub_page and not self.hub_page.repos.rowCount():
            self.hub_page.search_edit.setFocus()
