"""The manager's Discover tab: search Hugging Face, pick a quantisation that fits, download it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.credentials import TokenStore, delete_token, save_token
from app.core.errors import HearthError
from app.core.fit import Fit
from app.core.gguf_info import GGUFInfo
from app.core.hub import HubClient, HubFile, RepoListing, recommend
from app.core.hub_fit import RemoteFit, read_listing
from app.core.units import human_size
from app.ui.background import BackgroundOp
from app.ui.error_banner import ErrorBanner
from app.ui.hub_models import HubFileTableModel, HubRepoListModel

PAGE = 50  # search results asked for at a time


class HubPage(QWidget):
    """Search box, results, the chosen repository's files with fit labels, and Download.

    Signals:
        download_requested(object): the user chose a HubFile to download (after the fit and
            disk-space checks passed or were confirmed).
    """

    download_requested = Signal(object)

    def __init__(self, client: Callable[[], HubClient],
                 assess: Callable[[HubFile, GGUFInfo | None], Fit],
                 config_dir: Path, models_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client, self._assess = client, assess
        self._config_dir, self._models_dir = config_dir, models_dir
        self.listing: RepoListing | None = None
        self._remote: RemoteFit | None = None  # the listing shown, with its header facts
        self.fit_warning: QMessageBox | None = None
        self.repos = HubRepoListModel(self)
        self.files = HubFileTableModel(self)
        self._pending_repo = ""
        self._searches = 0  # numbers the searches, so only the newest one's answer shows
        self._query, self._limit = "", PAGE
        self._open_timer = QTimer(self)  # arrowing through results opens only where it stops
        self._open_timer.setSingleShot(True)
        self._open_timer.setInterval(250)
        self._open_timer.timeout.connect(
            lambda: self.open_repo(self.results_view.currentIndex().data(
                HubRepoListModel.RepoRole)))
        self._build()

    def _build(self) -> None:
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search Hugging Face for GGUF models, e.g. "
                                            "qwen2.5 or smollm2")
        self.search_edit.setClearButtonEnabled(True)
        self.search_button = QPushButton("Search")
        self.token_button = QPushButton("Access token…")
        self.token_button.setToolTip("For gated models: a Hugging Face access token, kept "
                                     "in your system keyring")
        self.banner = ErrorBanner()
        self.status = QLabel()
        self.results_view = QListView()
        self.results_view.setModel(self.repos)
        self.results_view.setWordWrap(True)
        self.results_view.setMinimumWidth(260)
        self.results_view.setSpacing(3)
        self.files_view = QTableView()
        self.files_view.setModel(self.files)
        self.files_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.files_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.files_view.verticalHeader().hide()
        header = self.files_view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.repo_title = QLabel()
        self.repo_title.setWordWrap(True)
        self.repo_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.card = QLabel()
        self.card.setWordWrap(True)
        self.card.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.card.setTextFormat(Qt.TextFormat.MarkdownText)  # links shown, never opened
        self.download_button = QPushButton("Download")
        self.download_button.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(self.search_edit, 1)
        top.addWidget(self.search_button)
        top.addWidget(self.token_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.repo_title)
        right_layout.addWidget(self.files_view, 2)
        right_layout.addWidget(self.card, 1)
        right_layout.addWidget(self.download_button, 0, Qt.AlignmentFlag.AlignRight)
        splitter = QSplitter()
        self.more_button = QPushButton("More results")
        self.more_button.hide()
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(self.results_view, 1)
        results_layout.addWidget(self.more_button)
        splitter.addWidget(results)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([330, 570])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)
        self.search_edit.returnPressed.connect(lambda: self.search())
        self.search_button.clicked.connect(lambda: self.search())
        self.token_button.clicked.connect(self.edit_token)
        self.more_button.clicked.connect(self.more_results)
        self.results_view.selectionModel().currentChanged.connect(
            lambda *_: self._open_timer.start())
        self.files_view.selectionModel().currentRowChanged.connect(
            lambda *_: self.download_button.setEnabled(self._chosen() is not None))
        self.download_button.clicked.connect(lambda: self.download())

    # -- searching and listing --------------------------------------------------------
    def search(self, query: str | None = None, limit: int = PAGE) -> None:
        """Search the hub for GGUF repositories (in the background), ``limit`` at most."""
        if query is not None:
            self.search_edit.setText(query)
        text = self.search_edit.text().strip()
        self._query, self._limit = text, limit
        self.banner.hide()
        self.status.setText(f"Searching for “{text}”…" if text else "Most downloaded GGUF "
                            "models…")
        self.search_button.setEnabled(False)
        self._searches += 1
        number = self._searches
        BackgroundOp(lambda: self._client().search(text, limit)) \
            .success(lambda repos: self._show_results(number, repos)) \
            .failure(lambda error: self._search_failed(number, error)) \
            .run_in_background()

    def _show_results(self, number: int, repos: list) -> None:
        if number != self._searches:
            return  # an older search, overtaken by a newer one
        self.search_button.setEnabled(True)
        current = self.results_view.currentIndex().data(HubRepoListModel.RepoRole)
        self.repos.set_repos(repos)
        self.more_button.setVisible(len(repos) >= self._limit)
        self.status.setText(f"{len(repos)} repositories" if repos else
                            "No GGUF repositories match. Try fewer or other words.")
        row = next((i for i, r in enumerate(repos) if r.id == current), None)
        if row is not None:  # "More results" keeps the open repository selected
            self.results_view.setCurrentIndex(self.repos.index(row))
            self._open_timer.stop()  # ...and open, without reading its files again

    def more_results(self) -> None:
        """Search again for the words shown, with room for more results."""
        self.search(self._query, limit=self._limit + PAGE)

    def open_repo(self, repo_id: str | None) -> None:
        """List a repository's GGUF files, their memory need and the recommended one."""
        if not repo_id:
            return
        self._pending_repo = repo_id
        self.banner.hide()
        self.repo_title.setText(f"<b>{repo_id}</b> — reading the file list…")
        self.files.set_files([], None)
        self.card.clear()
        self.download_button.setEnabled(False)
        client = self._client
        BackgroundOp(lambda: read_listing(client(), repo_id)) \
            .success(self._show_listing) \
            .failure(lambda error: self._listing_failed(repo_id, error)) \
            .run_in_background()

    def _show_listing(self, remote: RemoteFit) -> None:
        listing = remote.listing
        if listing.repo_id != self._pending_repo:
            return  # the user has moved on to another repository
        self.listing, self._remote = listing, remote
        rows: list[tuple[HubFile, Fit | None]] = [(f, self._assess(f, remote.info))
                                                  for f in listing.files]
        fits = {f: fit.label for f, fit in rows if fit}
        recommended = recommend(listing.files, fits.get)
        self.files.set_files(rows, recommended)
        count = len(listing.files)
        note = "".join(f" · {text}" for text in (
            "gated: downloads need your access token" if listing.gated else "",
            remote.note) if text)
        self.repo_title.setText(f"<b>{listing.repo_id}</b> — {count} GGUF "
                                f"model{'s' if count != 1 else ''}{note}")
        self.card.setText(listing.card_excerpt or "(no model card)")
        if not listing.files:
            self.status.setText("This repository has no GGUF model files.")
        chosen = self.files.row_of(recommended) if recommended else None
        if chosen is not None:
            self.files_view.selectRow(chosen)

    def refit(self) -> None:
        """Assess the listed files again (free memory changed, or the GPU's became known)."""
        if self._remote is None or self._remote.listing.repo_id != self._pending_repo:
            return
        chosen = self._chosen()
        self._show_listing(self._remote)
        row = self.files.row_of(chosen) if chosen is not None else None
        if row is not None:
            self.files_view.selectRow(row)

    def _search_failed(self, number: int, error: BaseException) -> None:
        if number == self._searches:
            self.search_button.setEnabled(True)
            self.status.clear()
            self._show_error(error)

    def _listing_failed(self, repo_id: str, error: BaseException) -> None:
        if repo_id == self._pending_repo:
            self.repo_title.clear()
            self._show_error(error)

    def _show_error(self, error: BaseException) -> None:
        if not isinstance(error, HearthError):
            raise error
        self.banner.show_message(str(error))

    # -- downloading ------------------------------------------------------------------
    def _chosen(self) -> HubFile | None:
        return self.files.file_at(self.files_view.currentIndex().row())

    def download(self, confirmed: bool = False) -> bool:
        """Queue the chosen file after the disk-space and fit checks; True when queued."""
        hub_file = self._chosen()
        if hub_file is None:
            return False
        self._models_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self._models_dir).free
        if free < hub_file.size:
            self.banner.show_message(
                f"Not enough disk space for {hub_file.path}: it needs "
                f"{human_size(hub_file.size)}, {human_size(free)} is free in "
                f"{self._models_dir}. Free some space, or pick a smaller quantisation.")
            return False
        fit = self.files.fit_at(self.files_view.currentIndex().row())
        if fit is not None and fit.label != "fits" and not confirmed:
            if fit.label == "too big":
                title = "This model may not fit"
                risk = "It may load slowly, make your computer swap, or fail to load."
            else:
                title = "This model will only just fit"
                risk = "Other programs may have to give up memory, and a long chat may not fit."
            self.fit_warning = QMessageBox(
                QMessageBox.Icon.Warning, title,
                f"{fit.text}.\n\n{risk} Download it anyway?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
            self.fit_warning.buttonClicked.connect(
                lambda button: self.fit_warning.standardButton(button)
                == QMessageBox.StandardButton.Yes and self.download(confirmed=True))
            self.fit_warning.open()
            return False
        self.download_requested.emit(hub_file)
        return True

    def edit_token(self) -> None:
        """Ask for a Hugging Face access token and store it (empty removes it)."""
        token, ok = QInputDialog.getText(self, "Hugging Face access token",
                                         "Token for gated models (empty to remove):",
                                         QLineEdit.EchoMode.Password)
        if ok:
            self.set_token(token.strip())

    def set_token(self, token: str) -> None:
        """Store ``token`` (or remove the stored one) and say where it went.

        In the background: the system keyring may take a while (or ask to be unlocked).
        """
        self.banner.hide()
        self.token_button.setEnabled(False)
        if not token:
            self.status.setText("Removing the access token…")
            BackgroundOp[None](delete_token, self._config_dir) \
                .success(lambda _none: self._token_stored("Access token removed.")) \
                .failure(self._token_failed) \
                .run_in_background()
            return
        self.status.setText("Saving the access token…")
        BackgroundOp[TokenStore](save_token, self._config_dir, token) \
            .success(lambda store: self._token_stored(f"Access token saved. {store.message}")) \
            .failure(self._token_failed) \
            .run_in_background()

    def _token_stored(self, text: str) -> None:
        self.token_button.setEnabled(True)
        self.status.setText(text)

    def _token_failed(self, error: BaseException) -> None:
        self.token_button.setEnabled(True)
        self.status.clear()
        self._show_error(error)
