"""Copying a model into the library: every part or nothing, with progress and cancel.

Each part is copied to a hidden temporary name in the library folder (hidden files are
not listed), flushed to disk, and only when all parts are complete renamed to their real
names, so a cancelled, failed or interrupted import never leaves half a model in the list.
A copy killed part-way leaves its hidden file behind: ``remove_abandoned_imports`` (run at
start) deletes those, but never one a running copy holds. A copy creates each hidden file
itself (never opening one that exists) and holds a lock on it (``flock``) until it is renamed
in or removed, every part of a split model to the end; the operating system drops the lock
when the copy's process ends, however it ends. (On Windows an open file cannot be deleted,
which guards it the same way.) Age or size would not do: a copy from a slow or stalled
drive may not grow for minutes.
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
    held: list[BinaryIO] = []  # this copy's temps, open and held until renamed or removed
    placed: list[Path] = []
    try:
        copier = _Copier(total, progress, cancel)
        for source, temp in zip(parts, temps, strict=True):
            held.append(_claim(temp, name))
            copier.copy(source, held[-1])
        _refuse_clashes(targets)
        if fcntl is None:  # Windows renames no open file
            _close(held)
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
        if fcntl is None:  # Windows deletes no open file
            _close(held)
        _remove(temps[len(placed):len(held)])  # (POSIX: while still held: no clean-up races)
        _close(held)
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
        if not temp.is_symlink() and _remove_abandoned(temp):   # (rglob enters no links)
            removed.append(temp)
    return removed


def _remove_abandoned(temp: Path) -> bool:
    """Delete ``temp`` unless a running copy holds it; True when it was deleted."""
    if fcntl is None:  # Windows: deleting fails while a copy has the file open
        try:
            temp.unlink()
        except OSError:
            return False
        return True
    try:
        with temp.open("rb") as file:
            if not _try_hold(file) or not _is_at(file, temp):
                return False      # being written, or replaced by a new copy's file meanwhile
            temp.unlink()
    except OSError:               # gone already, or the folder is read-only
        return False
    return True


def _claim(temp: Path, name: str) -> BinaryIO:
    """Create ``temp`` and hold it for this copy; LibraryError while another copy writes it.

    A leftover of a killed copy is deleted and made again. Between creating the file and
    locking it, a clean-up elsewhere may take it for a leftover: then it is made again.
    """
    for _attempt in range(3):
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_BINARY", 0), 0o644)
        except FileExistsError:
            if _remove_abandoned(temp) or not os.path.lexists(temp):
                continue
            break
        file = os.fdopen(fd, "wb")
        if _try_hold(file) and _is_at(file, temp):
            return file
        file.close()
    raise LibraryError(f"'{name}' is being copied into the library already (by this or "
                       "another Hearth window).", "Wait for that copy to end, or stop it.")


def _try_hold(file: BinaryIO) -> bool:
    try:
        hold(file)
    except OSError:  # BlockingIOError: another copy (or a clean-up) holds it
        return False
    return True


def _is_at(file: BinaryIO, path: Path) -> bool:
    """True if ``path`` still names the open ``file`` (not deleted or replaced meanwhile)."""
    try:
        here, there = os.fstat(file.fileno()), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _close(files: list[BinaryIO]) -> None:
    for file in files:
        with contextlib.suppress(OSError):
            file.close()


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

    def copy(self, source: Path, dst: BinaryIO) -> None:
        """Copy ``source`` into the open ``dst`` and flush it to disk (``dst`` stays open)."""
        buffer = bytearray(_CHUNK)
        view = memoryview(buffer)
        with source.open("rb") as src:
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
