"""Where Hearth keeps its files: one profile folder tree, overridable as a whole."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from app.core import bundle

APP_DIR_NAME = "hearth"
DATA_DIR_ENV = "HEARTH_DATA_DIR"
DOWNLOAD_CACHE_ENV = "HEARTH_DOWNLOAD_CACHE"


@dataclass(frozen=True)
class Paths:
    """Every location Hearth reads or writes, resolved once at start-up.

    With a data dir (``--data-dir`` or ``HEARTH_DATA_DIR``) the whole profile lives in
    that one folder; otherwise platformdirs gives the per-user locations.  The download
    cache is machine-wide and outside the profile, so a file fetched once (the starter
    model) is not fetched again for a second profile.  The built-in models (a bundle's
    starter model) are read where the app is installed and never written.
    """

    data_dir: Path
    config_dir: Path
    log_dir: Path
    cache_dir: Path
    download_cache_dir: Path
    builtin_models_dir: Path | None = None  # read-only models shipped with the app

    @property
    def models_dir(self) -> Path:
        """Folder of the model library (GGUF files)."""
        return self.data_dir / "models"

    @property
    def database_path(self) -> Path:
        """The SQLite history database."""
        return self.data_dir / "history.sqlite3"

    @property
    def settings_path(self) -> Path:
        """The JSON settings file."""
        return self.config_dir / "settings.json"

    @property
    def log_path(self) -> Path:
        """The application log file."""
        return self.log_dir / "hearth.log"

    def ensure(self) -> Paths:
        """Create every folder; return self for chaining."""
        for folder in (self.data_dir, self.config_dir, self.log_dir, self.cache_dir,
                       self.models_dir, self.download_cache_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def download_cache_dir() -> Path:
    """Machine-wide cache for downloaded files (``HEARTH_DOWNLOAD_CACHE`` overrides)."""
    override = os.environ.get(DOWNLOAD_CACHE_ENV)
    if override:
        return Path(override).expanduser().resolve()
    return Path(platformdirs.user_cache_dir(APP_DIR_NAME, appauthor=False)) / "downloads"


def resolve_paths(data_dir: str | os.PathLike[str] | None = None) -> Paths:
    """Resolve the profile: explicit ``data_dir``, then ``HEARTH_DATA_DIR``, then platformdirs."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    if chosen:
        root = Path(chosen).expanduser().resolve()
        return Paths(data_dir=root, config_dir=root, log_dir=root / "logs",
                     cache_dir=root / "cache", download_cache_dir=download_cache_dir(),
                     builtin_models_dir=bundle.builtin_models_dir())
    return Paths(
        data_dir=Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False)),
        config_dir=Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir(APP_DIR_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_DIR_NAME, appauthor=False)),
        download_cache_dir=download_cache_dir(),
        builtin_models_dir=bundle.builtin_models_dir(),
    )
