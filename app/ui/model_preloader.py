"""Loading the picked model ahead of the first message, never behind a reply's back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.core import protocol as p
from app.core.errors import SettingsError
from app.core.fit import detect_hardware
from app.core.generation_config import generation_config
from app.core.model_fit import fit_of_model
from app.core.settings import Settings
from app.core.stats_text import threads_text
from app.ui.chat_controller import ChatController
from app.ui.engine_bridge import EngineBridge
from app.ui.model_list_model import ModelListModel


class ModelPreloader(QObject):
    """Loads the model the user picked; one picked while a reply is written waits for it.

    Signals:
        problem(str): a known problem to show in the banner.
        status(str, int): a status-bar line and how long to show it (ms; 0: until replaced).
        loaded(object): the p.Loaded event of a model loaded for the window.
    """

    problem = Signal(str)
    status = Signal(str, int)
    loaded = Signal(object)

    def __init__(self, settings: Settings, models: ModelListModel, bridge: EngineBridge,
                 chat: ChatController, current: Callable[[], str | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings, self._models, self._bridge, self._chat = settings, models, bridge, chat
        self._current = current            # the model the picker shows now
        self._ids: set[str] = set()        # loads asked for here, not answered yet
        self._deferred: str | None = None  # picked during a reply: loaded when it ends
        bridge.loaded.connect(self._loaded)
        bridge.error.connect(self._error)

    def request(self, path: str) -> None:
        """Load the model at ``path`` now, or when the reply being written ends."""
        if self._chat.busy:  # a reply is being written: its model stays until it ends
            self._deferred = path
            self.status.emit(f"{Path(path).name} loads when this reply ends.", 8000)
            return
        self._deferred = None
        self._load(path)

    def reply_ended(self) -> None:
        """Load what was picked during the reply, if the picker still shows it."""
        path, self._deferred = self._deferred, None
        if path and path == self._current():
            self._load(path)

    def _load(self, path: str) -> None:
        """Load the model at ``path`` ahead of the next message, if it may fit."""
        try:
            spec = generation_config(self._settings, path).model
        except SettingsError as exc:
            self.problem.emit(str(exc))
            return
        row = self._models.row_of(path)
        entry = self._models.entry(row) if row is not None else None
        fit = None if entry is None else fit_of_model(entry, self._settings,
                                                      detect_hardware(wait_for_gpu=False))
        if entry is not None and fit and fit.label == "too big":  # sending a message loads it
            self.problem.emit(f"{entry.name} may not fit in this computer's memory "
                              f"({fit.text}). It may load slowly or fail; a smaller "
                              "quantisation or a shorter context would fit better.")
            return
        self._ids.add(self._bridge.client.load(spec))
        self.status.emit("Loading model…", 0)

    def _loaded(self, event: p.Loaded) -> None:
        self._ids.discard(event.request_id)
        if event.warnings:
            self.problem.emit("\n".join(event.warnings))
        if not self._chat.busy:
            self.status.emit(
                f"Model ready in {event.load_s:.1f} s · {threads_text(event.n_threads)} · "
                f"context {event.n_ctx} tokens · chat format {event.chat_format}", 8000)
        self.loaded.emit(event)

    def _error(self, request_id: str, _code: str, message: str) -> None:
        if request_id in self._ids:
            self._ids.discard(request_id)
            self.status.emit("", 0)
            self.problem.emit(message)
