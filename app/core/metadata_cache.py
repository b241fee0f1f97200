"""What each model file says about itself, remembered between runs so the library opens fast.

One JSON file under the profile's cache folder, keyed by the model's absolute path (its first
part for a split model). An entry is used only while every part's path, size and
modification time (ns) are unchanged, so a cached scan stats files but opens none. JSON
rather than SQLite: the whole cache is read once per scan and written at most once after
it (a few hundred entries of a few KB each, chat templates included), and a damaged file
is simply rebuilt. It is written to a temporary file and renamed into place,
without fsync: after a power cut the worst case is a cache that is read again from the files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import ModelFileError
from app.core.gguf_info import GGUFInfo, read_gguf_parts

log = logging.getLogger(__name__)

# Raise when gguf_info reads a field differently: entries of another version are dropped.
CACHE_VERSION = 1
# A change to GGUFInfo's fields makes older entries useless: they are read again.
_FIELDS = sorted(f.name for f in dataclasses.fields(GGUFInfo) if f.name != "path")

Reader = Callable[[Sequence[Path]], GGUFInfo]
Stamp = list[list[Any]]  # [[path, size, mtime_ns], ...] for every part


@dataclass(frozen=True)
class Metadata:
    """A model's facts, or why they cannot be read (``info`` is then None)."""

    info: GGUFInfo | None
    error: str = ""
    hint: str = ""


def stamp(parts: Sequence[Path], stats: Sequence[os.stat_result]) -> Stamp:
    """What must not change for a cached entry to stay valid."""
    return [[str(p), s.st_size, s.st_mtime_ns] for p, s in zip(parts, stats, strict=True)]


class MetadataCache:
    """Reads model metadata through a cache file (``path``), or in memory only (``None``).

    ``reader`` reads a model's parts (default ``read_gguf_parts``); ``reads`` counts its
    calls, so a caller (or a test) can see that a cached scan opened nothing.
    """

    def __init__(self, path: Path | None, reader: Reader = read_gguf_parts) -> None:
        self.path = path
        self.reads = 0
        self._reader = reader
        self._entries: dict[str, dict[str, Any]] = {}
        self._used: set[str] = set()
        self._dirty = False
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.info("Model metadata cache %s unreadable (%s); rebuilding it", path, exc)
            self._dirty = True
            return
        if (not isinstance(raw, dict) or raw.get("version") != CACHE_VERSION
                or raw.get("fields") != _FIELDS or not isinstance(raw.get("entries"), dict)):
            log.info("Model metadata cache %s is of another version or damaged; rebuilding it",
                     path)
            self._dirty = True
            return
        self._entries = raw["entries"]

    def get(self, parts: Sequence[Path], stats: Sequence[os.stat_result]) -> Metadata:
        """The metadata of the model in ``parts`` (whose ``stats`` the caller just took).

        Read from the files only when the cache has no entry with the same stamp. Never
        raises ModelFileError: the problem comes back as the Metadata's error.
        """
        key, current = str(parts[0]), stamp(parts, stats)
        self._used.add(key)
        cached = self._from_entry(parts[0], self._entries.get(key), current)
        if cached is not None:
            return cached
        self.reads += 1
        try:
            info = self._reader(list(parts))
        except ModelFileError as exc:
            if isinstance(exc.__cause__, OSError):
                # Access problems can pass without the file changing: ask again next time.
                self._forget(key)
                return Metadata(None, exc.message, exc.hint)
            self._remember(key, {"stamp": current, "error": exc.message, "hint": exc.hint})
            return Metadata(None, exc.message, exc.hint)
        except Exception:  # a bug in the reader must not hide the rest of the library
            log.exception("Reading the metadata of %s failed", parts[0])
            return Metadata(None, f"'{parts[0].name}' could not be read because of an error "
                            "in Hearth.", "The log has the details; please report it.")
        entry = dataclasses.asdict(info)
        entry.pop("path")
        self._remember(key, {"stamp": current, "info": entry})
        return Metadata(info)

    @staticmethod
    def _from_entry(path: Path, entry: Any, current: Stamp) -> Metadata | None:
        if not isinstance(entry, dict) or entry.get("stamp") != current:
            return None
        if "info" in entry:
            try:
                return Metadata(GGUFInfo(path=path, **entry["info"]))
            except TypeError:
                return None
        error, hint = entry.get("error"), entry.get("hint", "")
        if isinstance(error, str) and error and isinstance(hint, str):
            return Metadata(None, error, hint)
        return None

    def absorb(self, other: MetadataCache) -> None:
        """Take over what ``other`` read (e.g. a folder read on another thread)."""
        if other._entries:
            self._entries.update(other._entries)
            self._dirty = True

    def _remember(self, key: str, entry: dict[str, Any]) -> None:
        self._entries[key] = entry
        self._dirty = True

    def _forget(self, key: str) -> None:
        if self._entries.pop(key, None) is not None:
            self._dirty = True

    def save(self) -> None:
        """Drop the entries not asked for since the last save (files that are gone) and
        write the cache file if anything changed; a failed write is logged, not raised."""
        unused = self._entries.keys() - self._used
        for key in unused:
            del self._entries[key]
        self._dirty |= bool(unused)
        self._used = set()
        if self.path is None or not self._dirty:
            return
        document = {"version": CACHE_VERSION, "fields": _FIELDS, "entries": self._entries}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("Could not save the model metadata cache %s: %s", self.path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return
        self._dirty = False
