"""Where saved conversation states lie, and removing them (no llama.cpp needed).

A state's file names start with a digest of the conversation's cache key, so that all its
states (one per model and cache shape) can be found, and removed when the conversation is
deleted, without knowing the models. Used by the engine and by the GUI process.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

log = logging.getLogger("hearth.engine")


def key_stem(key: str) -> str:
    """The file-name prefix of ``key``'s states."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def state_paths(folder: Path, fingerprint: str, key: str) -> tuple[Path, Path]:
    """The state file and the token file of ``key`` under model ``fingerprint``."""
    stem = f"{key_stem(key)}-{fingerprint[:24]}"
    return folder / f"{stem}.state", folder / f"{stem}.tokens.npy"


def remove_states(folder: Path | None, keys: list[str]) -> int:
    """Delete every saved state of these conversations; return how many files went."""
    if folder is None or not folder.is_dir():
        return 0
    removed = 0
    for key in keys:
        for path in folder.glob(f"{key_stem(key)}-*"):
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("Could not delete the saved state %s: %s", path.name, exc)
    return removed


def remove_unnamed_states(folder: Path | None) -> int:
    """Delete states saved before names carried their conversation (they cannot be told
    apart, so a deleted chat's could not be found); a state is only a cache."""
    if folder is None or not folder.is_dir():
        return 0
    old = [p for p in folder.iterdir() if p.is_file() and "-" not in p.name]
    for path in old:
        path.unlink(missing_ok=True)
    return len(old)
