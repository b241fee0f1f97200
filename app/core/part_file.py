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
from typing import Any

import psutil

log = logging.getLogger(__name__)

SYNC_STEP = 64 << 20  # bytes between fsyncs of a part file
# Without a boot id, the boot time is compared: it is derived from the clock and the
# uptime, so a clock step (NTP) moves it; two boots within a minute do not happen.
_BOOT_TOLERANCE_S = 60.0
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")  # Linux: a new random id every boot


def _this_boot() -> dict[str, Any]:
    try:
        boot_id = _BOOT_ID.read_text().strip()
    except OSError:
        boot_id = ""
    return {"boot_id": boot_id, "boot": psutil.boot_time()}


def _same_boot(record: dict[str, Any]) -> bool:
    now = _this_boot()
    if record.get("boot_id") and now["boot_id"]:
        return record["boot_id"] == now["boot_id"]
    return abs(float(record["boot"]) - now["boot"]) <= _BOOT_TOLERANCE_S


def synced_path(part_path: Path) -> Path:
    """The side file recording how much of ``part_path`` is on disk for sure."""
    return part_path.with_suffix(".synced")


def record_synced(part_path: Path, length: int) -> None:
    """Note that the first ``length`` bytes of the part are fsynced (call after fsync)."""
    side = synced_path(part_path)
    temporary = side.with_suffix(".synced-tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump({"length": length, **_this_boot()}, handle)
        handle.flush()
        os.fsync(handle.fileno())  # a record lost in a power cut would lose the part
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
        synced = int(record["length"])
        same_boot = _same_boot(record)
    except FileNotFoundError:
        return length  # never synced (short, or an older Hearth): nothing to compare with
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.info("Ignoring the unreadable %s (%s)", side, exc)
        synced, same_boot = 0, False  # unknown: trust only what a restart cannot have hurt
    if same_boot or synced >= length:
        return length
    log.info("The computer restarted during the download of %s: continuing from the "
             "%d bytes saved for sure, not %d", part_path.name, synced, length)
    with part_path.open("r+b") as handle:
        handle.truncate(synced)
    record_synced(part_path, synced)  # this boot's record: the next resume trusts it
    return synced


def forget(part_path: Path) -> None:
    """Delete the part's side file (with the part, or when it is complete)."""
    synced_path(part_path).unlink(missing_ok=True)
