"""The model library: the GGUF files in the profile's models folder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_SPLIT_PART = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)


@dataclass(frozen=True)
class ModelEntry:
    """One model in the library."""

    path: Path
    size: int

    @property
    def name(self) -> str:
        """A readable name: the file name without its extension."""
        return _SPLIT_PART.sub("", self.path.name).removesuffix(".gguf")


class ModelLibrary:
    """Lists the models in a folder; split GGUFs count once, by their first part."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir

    def scan(self) -> list[ModelEntry]:
        """Every model file, sorted by name; files that vanish mid-scan are skipped."""
        entries = []
        if not self.models_dir.is_dir():
            return entries
        for path in self.models_dir.iterdir():
            if path.suffix.lower() != ".gguf" or path.name.startswith("."):
                continue
            part = _SPLIT_PART.search(path.name)
            if part and part.group(1) != "00001":
                continue
            try:
                size = path.stat().st_size
            except OSError:
                continue
            entries.append(ModelEntry(path=path, size=size))
        return sorted(entries, key=lambda e: e.name.lower())

    def find(self, path: str | Path) -> ModelEntry | None:
        """The entry for ``path`` if it is in the library."""
        wanted = Path(path)
        return next((e for e in self.scan() if e.path == wanted), None)
