"""A user profile opened for use: settings, history and model library together."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.core.library import ModelLibrary
from app.core.paths import Paths
from app.core.settings import Settings
from app.storage.database import open_database
from app.storage.history import History

log = logging.getLogger(__name__)


@dataclass
class Profile:
    """Everything the window and the self-test read and write, under one Paths."""

    paths: Paths
    settings: Settings
    history: History
    library: ModelLibrary

    @classmethod
    def open(cls, paths: Paths) -> Profile:
        """Create folders, open the database and mark replies a crash cut short."""
        paths.ensure()
        history = History(open_database(paths.database_path))
        interrupted = history.recover_interrupted()
        if interrupted:
            log.warning("%d reply(ies) were cut short by a crash; kept as interrupted",
                        interrupted)
        return cls(paths=paths, settings=Settings(paths.settings_path), history=history,
                   library=ModelLibrary(paths.models_dir))

    def engine_options(self) -> dict[str, object]:
        """How engines started for this profile keep states and share memory."""
        return {"state_dir": self.paths.cache_dir / "kv-states",
                "state_budget_bytes": self.settings.get("kv_state_budget_mb") << 20,
                "memory_budget_bytes": self.settings.get("engine_memory_budget_mb") << 20}
