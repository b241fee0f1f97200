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
        self.extra_files: list[Path] = []  # files used where they are (e.g. ``--model``)

    def use_file(self, path: str | Path) -> None:
        """List a model file that lives outside the models folder."""
        path = Path(path).expanduser().resolve()
        if path.parent != self.models_dir.resolve() and path not in self.extra_files:
            self.extra_files.append(path)

    def scan(self) -> list[ModelEntry]:
        """Every model file, sorted by name; files that vanish mid-scan are skipped."""
        entries = [ModelEntry(path=p, size=p.stat().st_size if p.is_file() else 0)
                   for p in self.extra_files]
        folder = list(self.models_dir.iterdir()) if self.models_dir.is_dir() else []
        for path in folder:
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
