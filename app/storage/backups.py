"""Copies of the history database made before each schema upgrade: made, listed, pruned.

A copy holds every chat as it was then, deleted ones included, so only the newest few are
kept once an upgrade has succeeded (setting ``keep_history_backups``). A copy made before
an upgrade that failed is renamed ``…-upgrade-failed``: it is the user's way back, so
pruning never removes it; only the user's explicit request (``remove_backups``) does.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path

log = logging.getLogger(__name__)

FAILED_SUFFIX = "-upgrade-failed"


def backup(path: Path, tag: str) -> Path:
    """Copy the database (consistently, WAL included) next to it; return the copy's path."""
    target = path.with_name(f"{path.name}.backup-{tag}-{time.strftime('%Y%m%d-%H%M%S')}")
    with closing(sqlite3.connect(path)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    return target


def mark_failed(copy: Path) -> Path:
    """Rename the copy made before an upgrade that failed, so it is never pruned."""
    kept = copy.with_name(copy.name + FAILED_SUFFIX)
    copy.replace(kept)
    return kept


def _pattern(path: Path) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(path.name)}\.backup-(?P<tag>.+)-(?P<time>\d{{8}}-\d{{6}})"
                      rf"(?P<failed>{FAILED_SUFFIX})?")


def list_backups(path: Path) -> list[Path]:
    """The backup copies of the database at ``path``, oldest first."""
    pattern = _pattern(path)
    found = []
    for candidate in path.parent.glob(f"{path.name}.backup-*"):
        match = pattern.fullmatch(candidate.name)
        if match and candidate.is_file():
            found.append((match["time"], match["tag"], candidate))
    return [candidate for _time, _tag, candidate in sorted(found)]


def is_failed_upgrade(copy: Path) -> bool:
    """Whether ``copy`` was made before an upgrade that failed."""
    return copy.name.endswith(FAILED_SUFFIX)


def prune_backups(path: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest copies (never one of a failed upgrade); return
    the deleted ones. Call only once the database opened (and upgraded) successfully."""
    prunable = [copy for copy in list_backups(path) if not is_failed_upgrade(copy)]
    doomed = prunable[:max(0, len(prunable) - keep)]
    return _remove(doomed, "pruned")


def remove_backups(path: Path) -> list[Path]:
    """Delete every backup copy (the user asked for it); return the deleted ones."""
    return _remove(list_backups(path), "deleted on request")


def _remove(copies: list[Path], why: str) -> list[Path]:
    removed = []
    for copy in copies:
        try:
            copy.unlink()
            copy.with_name(copy.name + "-journal").unlink(missing_ok=True)
        except OSError as exc:
            log.warning("Could not delete the history backup %s: %s", copy, exc)
            continue
        log.info("History backup %s %s", copy.name, why)
        removed.append(copy)
    return removed
