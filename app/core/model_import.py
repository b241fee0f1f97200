"""Copying a model into the library: every part or nothing, with progress and cancel.

Each part is copied to a hidden temporary name in the library folder (hidden files are
not listed), flushed to disk, and only when all parts are complete renamed to their real
names, so a cancelled, failed or interrupted import never leaves half a model in the list.
A copy killed part-way leaves its hidden file behind: ``remove_abandoned_imports`` (run at
start) deletes those, but never one a running copy holds (each copy keeps a lock on it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from app.core.errors import LibraryError
from app.core.units import human_size

try:
    import fcntl
except ImportError:  # Windows: an open file cannot be deleted, which guards it as well
    fcntl = None  # type: ignore[assignment]

MARGIN = 64 << 20  # left free after an import
TEMP_SUFFIX = ".importing"
_CHUNK = 8 << 20
_PROGRESS_INTERVAL = 0.1  # seconds between progress calls
_FULL = (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))

Progress = Callable[[int, int], None]  # (bytes copied, bytes in all)


class ImportCancelled(Exception):
    """The import was cancelled; nothing was added to the library (not a HearthError)."""


def free_space(folder: Path) -> int:
    """Bytes free on the file system of ``folder``."""
    return shutil.disk_usage(folder).free


def copy_model(parts: Sequence[Path], folder: Path, progress: Progress | None = None,
               cancel: threading.Event | None = None,
               space: Callable[[Path], int] = free_space) -> Path:
    """Copy a model's ``parts`` into ``folder``; return the first part's new path.

    Refuses (LibraryError) a name already in the folder and a copy the disk cannot hold;
    raises ImportCancelled when ``cancel`` is set. Either all parts arrive or none.
    """
    name = parts[0].name
    targets = [folder / part.name for part in parts]
    _refuse_clashes(targets)
    folder.mkdir(parents=True, exist_ok=True)
    total = sum(part.stat().st_size for part in parts)
    free = space(folder)
    if free < total + MARGIN:
        raise LibraryError(f"Not enough disk space to import '{name}': it needs "
                           f"{human_size(total)}, {human_size(free)} are free in {folder}.",
                           "Free some space, or link the file instead of copying it.")
    temps = [folder / f".{target.name}{TEMP_SUFFIX}" for target in targets]
    placed: list[Path] = []
    try:
        copier = _Copier(total, progress, cancel)
        for source, temp in zip(parts, temps, strict=True):
            copier.copy(source, temp)
        _refuse_clashes(targets)
        for temp, target in zip(temps, targets, strict=True):
            os.replace(temp, target)
            placed.append(target)
    except OSError as exc:
        _remove(placed)
        if exc.errno in _FULL:
            raise LibraryError(f"The disk became full while importing '{name}'; nothing was "
                               "added.", "Free some space and import it again.") from exc
        raise LibraryError(f"Importing '{name}' failed: {exc.strerror or exc}.",
                           "Check that the file is readable and the library folder "
                           "writable.") from exc
    except BaseException:
        _remove(placed)
        raise
    finally:
        _remove(temps)
    return targets[0]


def hold(file: BinaryIO) -> None:
    """Mark an open temporary file as being written (released when it is closed)."""
    if fcntl is not None:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def remove_abandoned_imports(folder: Path) -> list[Path]:
    """Delete the hidden files of copies that were killed part-way; return them.

    Only Hearth's own library folder is searched; a file a running copy (this Hearth or
    another on the same profile) holds is left alone.
    """
    removed = []
    for temp in sorted(folder.rglob(f".*{TEMP_SUFFIX}")) if folder.is_dir() else []:
        try:
            with temp.open("rb") as file:
                hold(file)                      # refused while a copy is writing it
                temp.unlink()
        except OSError:                         # BlockingIOError: in use; else: gone
            continue
        removed.append(temp)
    return removed


def _refuse_clashes(targets: list[Path]) -> None:
    for target in targets:
        if os.path.lexists(target):
            raise LibraryError(f"Your library already has a file named '{target.name}'.",
                               "Rename the file you are importing, or delete the one in the "
                               "library first.")


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


class _Copier:
    """Copies files chunk by chunk, reporting progress over all of them and checking cancel."""

    def __init__(self, total: int, progress: Progress | None,
                 cancel: threading.Event | None) -> None:
        self.total, self.done = total, 0
        self.progress, self.cancel = progress, cancel
        self._reported = 0.0

    def copy(self, source: Path, target: Path) -> None:
        buffer = bytearray(_CHUNK)
        view = memoryview(buffer)
        with source.open("rb") as src, target.open("wb") as dst:
            hold(dst)
            while True:
                if self.cancel is not None and self.cancel.is_set():
                    raise ImportCancelled
                count = src.readinto(buffer)
                if not count:
                    break
                dst.write(view[:count])
                self.done += count
                self._report(final=False)
            dst.flush()
            os.fsync(dst.fileno())
        self._report(final=True)

    def _report(self, final: bool) -> None:
        now = time.monotonic()
        if self.progress is not None and (final or now - self._reported >= _PROGRESS_INTERVAL):
            self._reported = now
            self.progress(self.done, self.total)
