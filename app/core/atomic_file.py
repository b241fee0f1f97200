"""Replacing a small file in one step: a reader, a crash or a power cut sees the old
file or the new one, never a mix or an empty file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8); raise OSError when it cannot be written.

    The text goes to a temporary file in the same folder, which is flushed and fsynced
    before ``os.replace`` puts it in place; on POSIX the folder is fsynced too, so the new
    name itself survives a power cut. On failure the old file is left as it was.
    """
    temp_name: str | None = None
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="\n", delete=False,
                                         dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp") as temp:
            temp_name = temp.name
            temp.write(text)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
        temp_name = None
    finally:
        if temp_name is not None:
            Path(temp_name).unlink(missing_ok=True)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX only; Windows has no folder handles)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
