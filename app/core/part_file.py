"""How much of a partial download survived: the bytes fsynced before a power cut.

A crash of the app leaves the part file intact (the kernel still has every byte written),
but a power cut or a hard reset can leave its tail unwritten or zero-filled, which would
only show as a checksum mismatch at the very end — and that deletes the whole part. So the
transfer fsyncs the part every ``SYNC_STEP`` bytes and records, in a small side file, how
many bytes are safely on disk and since which boot of the computer. When a download is
resumed after the computer was restarted, the part is cut back to that length; after a
crash of the app alone, all of it is used.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

SYNC_STEP = 64 << 20  # bytes between fsyncs of a part file
_BOOT_TOLERANCE_S = 5.0  # boot times computed from uptime may wobble by a little


def synced_path(part_path: Path) -> Path:
    """The side file recording how much of ``part_path`` is on disk for sure."""
    return part_path.with_suffix(".synced")


def record_synced(part_path: Path, length: int) -> None:
    """Note that the first ``length`` bytes of the part are fsynced (call after fsync)."""
    side = synced_path(part_path)
    temporary = side.with_suffix(".synced-tmp")
    temporary.write_text(json.dumps({"length": length, "boot": psutil.boot_time()}))
    os.replace(temporary, side)


def trusted_length(part_path: Path) -> int:
    """How many bytes of the part to resume from, cutting it back after a restart."""
    try:
        length = part_path.stat().st_size
    except FileNotFoundError:
        return 0
    side = synced_path(part_path)
    try:
        record = json.loads(side.read_text())
        synced, boot = int(record["length"]), float(record["boot"])
    except FileNotFoundError:
        synced, boot = 0, psutil.boot_time()  # never synced: nothing to compare with
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.info("Ignoring the unreadable %s (%s)", side, exc)
        synced, boot = 0, 0.0  # unknown: trust only what a restart cannot have damaged
    if abs(boot - psutil.boot_time()) <= _BOOT_TOLERANCE_S or synced >= length:
        return length
    log.info("The computer restarted during the download of %s: continuing from the "
             "%d bytes saved for sure, not %d", part_path.name, synced, length)
    with part_path.open("r+b") as handle:
        handle.truncate(synced)
    return synced


def forget(part_path: Path) -> None:
    """Delete the part's side file (with the part, or when it is complete)."""
    synced_path(part_path).unlink(missing_ok=True)
