"""The settings file on disk: read (a damaged one set aside, never overwritten), and changed
by patching what is on disk, under a lock, written atomically.

Two Hearths may run on one profile. Each save takes ``settings.json.lock`` (``filelock``;
the operating system lets go of it when a process ends, however it ends), reads the file
again and changes only the keys this process changed, so neither erases the other's
values, nor values this version of Hearth does not understand.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from app.core.atomic_file import write_text_atomically

log = logging.getLogger(__name__)

Document = dict[str, Any]
LOCK_TIMEOUT_S = 10.0  # a save holds the lock for milliseconds; this is a stuck disk


class SettingsFile:
    """One JSON object in a file, read whole and changed key by key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(path.with_name(path.name + ".lock"))
        self._last: Document = {}  # the document as last read or written

    def read(self) -> tuple[Document, list[str]]:
        """The document on disk ({} when there is none) and what was wrong with the file.

        A file that is not a JSON object is renamed ``<name>.corrupt-<time>`` (reported),
        so the next save cannot overwrite it. Raises OSError when it cannot be read.
        """
        problems: list[str] = []
        if not self.path.parent.is_dir():
            return {}, problems
        with self._locked():
            document = self._read_or_set_aside(problems)
        self._last = document or {}
        return copy.deepcopy(self._last), problems

    def save(self, patch: Callable[[Document], None]) -> Document:
        """Apply ``patch`` to the document on disk and write the result; return it.

        The file is read again under the lock, so what other processes wrote since is kept;
        when it is missing or unreadable as JSON (then set aside), the document last read or
        written here is patched instead. Raises OSError when the file cannot be read or
        written, leaving it as it was.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            document = self._read_or_set_aside([])
            if document is None:
                document = copy.deepcopy(self._last)
            patch(document)
            write_text_atomically(self.path, json.dumps(document, indent=2, sort_keys=True,
                                                        ensure_ascii=False) + "\n")
        self._last = document
        return copy.deepcopy(document)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self._lock.acquire(timeout=LOCK_TIMEOUT_S)
        except Timeout as exc:
            raise OSError(f"{self._lock.lock_file} stayed locked by another Hearth for "
                          f"{LOCK_TIMEOUT_S:g} s") from exc
        try:
            yield
        finally:
            self._lock.release()

    def _read_or_set_aside(self, problems: list[str]) -> Document | None:
        """The document on disk; None when there is none or it was set aside (lock held)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            document = json.loads(data.decode("utf-8"))
            if not isinstance(document, dict):
                raise ValueError("it is not a JSON object")
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
            aside = self._aside_name()
            self.path.replace(aside)
            problem = (f"The settings file {self.path} could not be read ({exc}); it was "
                       f"set aside as {aside.name} and the defaults are used.")
            log.warning("%s", problem)
            problems.append(problem)
            return None
        return document

    def _aside_name(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        number = 1
        while aside.exists():
            number += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{number}")
        return aside
