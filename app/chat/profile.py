"""A user profile opened for use: settings, history, model library and downloads together."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from app.core.credentials import load_token
from app.core.download_queue import DownloadQueue
from app.core.hub import HubClient
from app.core.library import ModelLibrary
from app.core.model_import import remove_abandoned_imports
from app.core.paths import Paths
from app.core.settings import Settings
from app.core.starter_model import builtin_starter_model
from app.engine.state_files import remove_states, remove_unnamed_states
from app.storage.database import open_database
from app.storage.history import History

log = logging.getLogger(__name__)


class EngineOptions(TypedDict):
    """The keyword arguments ``EngineClient`` (and ``EngineBridge``) take from a profile."""

    log_path: Path | None
    state_dir: Path | None
    state_budget_bytes: int
    memory_budget_bytes: int


class _DisplayNames:
    """The names users gave their models (per-model setting ``display_name``), read live."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def get(self, path: str, default: str) -> str:
        """The name given to the model at ``path``, else ``default``."""
        return self._settings.model_overrides(path).get("display_name") or default


@dataclass
class Profile:
    """Everything the window and the self-test read and write, under one Paths."""

    paths: Paths
    settings: Settings
    history: History
    library: ModelLibrary
    download_queue: DownloadQueue

    @classmethod
    def open(cls, paths: Paths) -> Profile:
        """Create folders, open the database (pruning its upgrade backups), mark replies a
        crash cut short, and finish deleting chats whose undo time ran out while the app
        was not running. A bundle's built-in starter model is the first default model."""
        paths.ensure()
        settings = Settings(paths.settings_path)
        history = History(open_database(paths.database_path,
                                        keep_backups=settings.get("keep_history_backups")))
        interrupted = history.recover_interrupted()
        if interrupted:
            log.warning("%d reply(ies) were cut short by a crash; kept as interrupted",
                        interrupted)
        states = paths.cache_dir / "kv-states"
        deleted = history.deleted_cache_keys()
        if deleted:
            history.purge_deleted()
            remove_states(states, deleted)
        remove_unnamed_states(states)
        for leftover in remove_abandoned_imports(paths.models_dir):
            log.info("Removed %s, left by a copy into the library that was cut short", leftover)
        library = ModelLibrary(
            paths.models_dir, cache_path=paths.cache_dir / "model-metadata.json",
            linked_folders=[Path(f) for f in settings.get("library_folders")],
            linked_files=[Path(f) for f in settings.get("library_files")],
            display_names=_DisplayNames(settings), builtin_dir=paths.builtin_models_dir)
        builtin = builtin_starter_model(paths)
        if builtin is not None and not settings.get("default_model"):
            settings.set("default_model", str(builtin))  # the first start of a bundle
        queue = DownloadQueue(paths.data_dir / "downloads", paths.models_dir)
        return cls(paths=paths, settings=settings, history=history, library=library,
                   download_queue=queue)

    def engine_options(self) -> EngineOptions:
        """How engines started for this profile keep states, share memory and name the log."""
        return {"log_path": self.paths.log_path,
                "state_dir": self.paths.cache_dir / "kv-states",
                "state_budget_bytes": self.settings.get("kv_state_budget_mb") << 20,
                "memory_budget_bytes": self.settings.get("engine_memory_budget_mb") << 20}

    def hub_client(self) -> HubClient:
        """A Hugging Face client with this profile's endpoint and access token."""
        return HubClient(token=load_token(self.paths.config_dir),
                         endpoint=self.settings.get("hub_endpoint") or None)
