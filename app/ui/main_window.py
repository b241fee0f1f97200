"""The main window: conversations on the left, the open chat on the right."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QMainWindow,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.chat.profile import Profile
from app.core.fit import probe_gpu
from app.core.settings import SCHEMA
from app.core.starter_model import ensure_starter_model
from app.core.stats_text import describe_stats
from app.ui import background
from app.ui.about_dialog import AboutDialog
from app.ui.background import BackgroundOp
from app.ui.chat_controller import ChatController
from app.ui.chat_view import ChatView
from app.ui.composer import Composer
from app.ui.conversation_actions import ConversationActions, UndoBar
from app.ui.conversation_list_model import ConversationListModel
from app.ui.download_runner import DownloadRunner
from app.ui.downloads_page import DownloadIndicator
from app.ui.eliding_delegate import ElidingDelegate
from app.ui.engine_bridge import EngineBridge
from app.ui.error_banner import ErrorBanner
from app.ui.library_scanner import LibraryScan, LibraryScanner
from app.ui.menus import build_menus
from app.ui.message_jump import jump_to_message
from app.ui.model_list_model import ModelListModel
from app.ui.model_manager import ModelManager
from app.ui.model_preloader import ModelPreloader
from app.ui.search_panel import SearchPanel
from app.ui.settings_dialog import SettingsDialog, chat_settings_dialog, model_settings_dialog

QUIT_WAIT_S = 5.0  # how long closing waits for background work to end


class MainWindow(QMainWindow):
    """Hearth's main window over one profile and one engine."""

    def __init__(self, profile: Profile, model_path: str | None = None,
                 fetch_starter: bool = True) -> None:
        super().__init__()
        self.profile = profile
        self.setWindowTitle(APP_NAME)
        self.resize(1100, 720)
        self.bridge = EngineBridge(self, **profile.engine_options())
        self.chat = ChatController(profile.history, profile.settings, self.bridge, self)
        self.conversations = ConversationListModel(profile.history, self)
        if model_path:
            model_path = str(Path(model_path).expanduser().resolve())
            profile.library.use_file(model_path)
        self._session_model = model_path  # --model: new chats of this session only
        self.models = ModelListModel(profile.library, self)
        self.preloader = ModelPreloader(profile.settings, self.models, self.bridge, self.chat,
                                        self.current_model_path, self)
        self.scanner = LibraryScanner(profile.library, self)  # one scan for picker and manager
        self.scanner.scanned.connect(self._library_scanned)
        BackgroundOp[object](probe_gpu).run_in_background()  # fits use RAM until it answers
        self.downloads = DownloadRunner(profile.download_queue, profile.hub_client, self)
        self.manager: ModelManager | None = None
        self._build()
        self._connect()
        build_menus(self)
        self.conversations.reload()
        self._reload_models(self.new_chat_model())
        if fetch_starter and not self.models.usable_count() and not model_path:
            self._fetch_starter_model()
        self.downloads.pump()  # downloads the app was closed during go on

    def _build(self) -> None:
        self.new_button = QPushButton("New chat")
        self.conversation_view = QListView()
        self.conversation_view.setModel(self.conversations)
        self.conversation_view.setItemDelegate(ElidingDelegate(self.conversation_view))
        self.conversation_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.conversation_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.delete_button = QPushButton("Delete")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(8, 8, 0, 8)
        left_layout.addWidget(self.new_button)
        self.search = SearchPanel(self.profile.history, self.conversation_view)
        left_layout.addWidget(self.search, 1)  # the search box, above the list or results
        left_layout.addWidget(self.delete_button)

        self.model_picker = QComboBox()
        self.model_picker.setModel(self.models)
        self.model_picker.setPlaceholderText("No model chosen")
        self.model_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.models_button = QPushButton("Models…")
        self.models_button.setToolTip("Your model library, Hugging Face and downloads "
                                      "(Ctrl+Shift+M)")
        self.model_settings_button = QPushButton("Model settings…")
        self.model_settings_button.setToolTip("Defaults for this model: context, threads, "
                                              "GPU, chat format, sampling")
        self.chat_settings_button = QPushButton("Chat settings…")
        self.chat_settings_button.setToolTip("System prompt and sampling for this chat only")
        top = QHBoxLayout()
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.model_picker, 1)
        top.addWidget(self.models_button)
        top.addWidget(self.model_settings_button)
        top.addWidget(self.chat_settings_button)
        self.banner = ErrorBanner()
        self.chat_view = ChatView()
        self.chat_view.setModel(self.chat.messages)
        self.composer = Composer()
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.composer, 1)
        bottom.addLayout(buttons)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 8, 8, 8)
        right_layout.addLayout(top)
        right_layout.addWidget(self.banner)
        right_layout.addWidget(self.chat_view, 1)
        right_layout.addLayout(bottom)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 840])
        self.setCentralWidget(splitter)
        self.undo_bar = UndoBar()
        self.statusBar().addPermanentWidget(self.undo_bar)
        self.statusBar().addPermanentWidget(DownloadIndicator(self.downloads))
        self.actions_ = ConversationActions(self.profile.history, self.chat,
                                            self.conversation_view, self.conversations,
                                            self.undo_bar, self.profile.paths.database_path)
        stop_action = QAction("Stop reply", self)
        stop_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        stop_action.triggered.connect(self.chat.stop)
        self.addAction(stop_action)
        new_action = QAction("New chat", self)
        new_action.setShortcut(QKeySequence.StandardKey.New)
        new_action.triggered.connect(self.new_chat)
        self.addAction(new_action)
        find_action = QAction("Search all chats", self)
        find_action.setShortcut(QKeySequence.StandardKey.Find)
        find_action.triggered.connect(self.search.focus_search)
        self.addAction(find_action)

    def _connect(self) -> None:
        self.new_button.clicked.connect(self.new_chat)
        self.delete_button.clicked.connect(self.actions_.delete)
        self.actions_.changed.connect(self._refresh_conversations)
        self.actions_.changed.connect(self.search.refresh)
        self.conversation_view.selectionModel().currentChanged.connect(
            lambda current, _previous: self._conversation_chosen(current.row()))
        self.composer.submitted.connect(self.send)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.chat.stop)
        self.model_picker.currentIndexChanged.connect(self._model_chosen)
        self.model_settings_button.clicked.connect(lambda: self.edit_model_settings())
        self.models_button.clicked.connect(self.open_model_manager)
        self.downloads.file_ready.connect(self._download_ready)
        self.chat_settings_button.clicked.connect(self.edit_chat_settings)
        self.chat.busy_changed.connect(self._busy_changed)
        self.chat.error_occurred.connect(self.banner.show_message)
        self.chat.conversations_changed.connect(self._refresh_conversations)
        self.chat.conversation_changed.connect(lambda _id: self._refresh_conversations())
        self.chat.conversation_changed.connect(lambda _id: self._show_chat_model())
        self.chat.status.connect(self.statusBar().showMessage)
        self.chat_view.version_requested.connect(self.chat.switch_version)
        self.chat_view.regenerate_requested.connect(
            lambda row: self.chat.regenerate(row, self.current_model_path()))
        self.chat_view.edit_requested.connect(self.edit_message)
        self.chat.reply_finished.connect(
            lambda stats: self.statusBar().showMessage(describe_stats(stats)))
        self.search.open_message.connect(self.open_message)
        self.chat.conversations_changed.connect(self.search.refresh)
        self.preloader.problem.connect(self.banner.show_message)
        self.preloader.status.connect(self.statusBar().showMessage)
        self.preloader.loaded.connect(lambda event: self.model_picker.setToolTip(
            f"{event.model_path}\n{event.template_note}".strip()))

    def current_model_path(self) -> str | None:
        """Path of the open chat's model (the one the picker shows), if any."""
        row = self.model_picker.currentIndex()
        return self.models.index(row).data(ModelListModel.PathRole) if row >= 0 else None

    def new_chat_model(self) -> str | None:
        """The model new chats start with: ``--model`` for this session, else the default."""
        return self._session_model or self.profile.settings.get("default_model")

    def send(self) -> None:
        """Send the composer's text to the chosen model."""
        if self.chat.send(self.composer.toPlainText(), self.current_model_path()):
            self.composer.clear()
            self.banner.hide()

    def edit_message(self, row: int) -> None:
        """Let the user rewrite a message of theirs; the edit becomes a new branch."""
        message = self.chat.messages.row(row)
        if message.role != "user" or self.chat.busy:
            return
        text, ok = QInputDialog.getMultiLineText(self, "Edit message", "Your message:",
                                                 message.text)
        if ok and text.strip() and text.strip() != message.text:
            self.chat.edit(row, text, self.current_model_path())

    def use_model_for_new_chats(self) -> None:
        """Make the open chat's model the default for new chats (the user said so)."""
        path = self.current_model_path()
        if path:
            self.profile.settings.set("default_model", path)
            self.statusBar().showMessage(f"New chats will use {Path(path).name}.", 8000)
            if self.manager is not None:
                self.manager.library_page.reload()

    def open_message(self, conversation_id: int, message_id: int) -> None:
        """Open a chat at one of its messages (a search result)."""
        problem = jump_to_message(self.chat, self.chat_view, conversation_id, message_id)
        if problem:
            self.statusBar().showMessage(problem, 8000)

    def new_chat(self) -> None:
        """Open an empty chat."""
        self.chat.new_conversation()
        self._show_chat_model()   # the default model (also when an empty chat was open)
        self.composer.setFocus()

    def open_model_manager(self) -> ModelManager:
        """Show the model manager (library, Hugging Face, downloads)."""
        if self.manager is None:
            self.manager = ModelManager(self.profile, self.downloads, self.scanner,
                                        self.bridge.client.loaded_models,
                                        self.edit_model_settings, self)
        else:
            self.manager.refresh_hardware()
        self.manager.show()
        self.manager.raise_()
        self.manager.activateWindow()
        return self.manager

    def _library_changed(self) -> None:
        """Scan the library again (in the background); the picker follows the scan."""
        self.scanner.rescan()

    def _library_scanned(self, scan: LibraryScan) -> None:
        # The picker shows the open chat's model: a new default is for new chats only.
        self._reload_models(self.chat.conversation_model() or self.current_model_path()
                            or self.new_chat_model(), scan=scan)

    def _show_chat_model(self) -> None:
        """Show the open chat's model in the picker (a new chat: the default)."""
        wanted = self.chat.conversation_model() or self.new_chat_model()
        if wanted == self.current_model_path():
            return
        self._reload_models(wanted, rescan=False)
        if wanted and self.current_model_path() != wanted:
            self.statusBar().showMessage(
                f"This chat's model, {Path(wanted).name}, is not in your library (or cannot "
                "be used); its next reply uses the model shown at the top.", 10000)

    def _download_ready(self, path: str) -> None:
        self.scanner.rescan(then=lambda _scan: self._announce_download(path))

    def _announce_download(self, path: str) -> None:
        entry = self.models.entry_with_part(path)
        if entry is not None and not entry.error:
            text = f"{entry.name} was downloaded and verified; it is in your model library."
        else:  # one part of a split model: the library says which parts are missing
            text = f"{Path(path).name} was downloaded and verified; the model needs its " \
                   "other parts too."
        self.statusBar().showMessage(text, 10000)

    def edit_model_settings(self, path: str | None = None) -> SettingsDialog | None:
        """Edit a model's own settings, by default the chosen one's (returns the dialog)."""
        path = path or self.current_model_path()
        if not path:
            self.banner.show_message("Choose a model first.")
            return None
        dialog = model_settings_dialog(self.profile.settings, path,
                                       self.manager if self.manager and self.manager.isVisible()
                                       else self)
        dialog.accepted.connect(lambda: self._save_model_settings(path, dialog.values()))
        dialog.open()
        return dialog

    def _save_model_settings(self, path: str, values: dict[str, object]) -> None:
        for name, spec in SCHEMA.items():
            if spec.per_model:
                self.profile.settings.set_model_override(path, name, values.get(name))
        self._library_changed()  # the display name may have changed
        if path == self.current_model_path():
            self._model_chosen(self.model_picker.currentIndex(), by_user=False)  # reload

    def edit_chat_settings(self) -> SettingsDialog:
        """Edit this chat's own settings (opens the dialog; returns it for tests)."""
        dialog = chat_settings_dialog(self.profile.settings, self.current_model_path() or "",
                                      self.chat.conversation_settings(), self)
        dialog.accepted.connect(lambda: self.chat.set_conversation_settings(dialog.values()))
        dialog.open()
        return dialog

    def show_about(self) -> AboutDialog:
        """Help → About (opens the dialog; returns it for tests)."""
        dialog = AboutDialog(self.bridge.system_info, self)
        dialog.open()
        return dialog

    def _conversation_chosen(self, row: int) -> None:
        conversation_id = self.conversations.conversation_id(row)
        if conversation_id is not None:
            self.chat.open_conversation(conversation_id)

    def _refresh_conversations(self) -> None:
        self.conversations.reload()
        row = (self.conversations.row_of(self.chat.conversation_id)
               if self.chat.conversation_id is not None else None)
        selection = self.conversation_view.selectionModel()
        selection.blockSignals(True)
        if row is None:
            selection.clear()
        else:
            selection.setCurrentIndex(self.conversations.index(row),
                                      QItemSelectionModel.SelectionFlag.ClearAndSelect)
        selection.blockSignals(False)
        self.conversation_view.viewport().update()

    def _busy_changed(self, busy: bool) -> None:
        self.stop_button.setEnabled(busy)
        self.send_button.setEnabled(not busy)
        self.statusBar().showMessage("Writing…" if busy else "")
        if not busy:
            self.preloader.reply_ended()

    def _reload_models(self, select: str | None = None, rescan: bool = True,
                       scan: LibraryScan | None = None) -> None:
        """Show ``scan`` (else scan now, unless not ``rescan``) and select ``select``.

        Without ``select`` (or when it is not usable) the first usable model is chosen. The
        model is (re)loaded only when the selection really changed: resetting the picker's
        list must not load another model behind the user's back.
        """
        before = self.current_model_path()
        self.model_picker.blockSignals(True)
        try:
            if scan is not None:  # a scan made in the background
                self.models.set_models(scan.models)
            elif rescan:
                self.models.set_models(self.scanner.scan_now().models)  # start-up only
            row = self.models.row_of(select) if select else None
            if row is None or not self._usable(row):
                row = next((i for i in range(self.models.rowCount()) if self._usable(i)), None)
            self.model_picker.setCurrentIndex(row if row is not None else -1)
        finally:
            self.model_picker.blockSignals(False)
        if self.current_model_path() != before:
            self._model_chosen(self.model_picker.currentIndex(), by_user=False)

    def _usable(self, row: int) -> bool:
        """Whether the picker's model in ``row`` can be loaded (a readable, whole file)."""
        entry = self.models.entry(row)
        return entry is not None and not entry.error

    def _model_chosen(self, row: int, by_user: bool = True) -> None:
        path = self.current_model_path()
        if row < 0 or not path:
            return
        if by_user:
            self.chat.set_conversation_model(path)
        self.preloader.request(path)

    def _fetch_starter_model(self) -> None:
        self.statusBar().showMessage("Downloading the starter model (98 MB)…")
        BackgroundOp(ensure_starter_model, self.profile.paths) \
            .success(self._starter_model_ready) \
            .failure(lambda exc: self.banner.show_message(str(exc))) \
            .run_in_background()

    def _starter_model_ready(self, path: Path) -> None:
        if not self.profile.settings.get("default_model"):  # the first start: nothing else
            self.profile.settings.set("default_model", str(path))
        self._library_changed()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.downloads.shutdown()
        background.finish_running(QUIT_WAIT_S)  # copies, imports: cancelled; others: waited for
        self.actions_.purge()
        self.chat.stop()
        self.bridge.shutdown()
        super().closeEvent(event)
