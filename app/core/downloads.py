"""One file's download: ranged, resumable, verified, and only then placed in the library.

Our own transfer over httpx2 instead of ``hf_hub_download``: since huggingface_hub 1.18
that downloads into a per-process temporary file it deletes on failure, so it cannot
resume after a crash or restart. Here the bytes go to a ``.part`` file outside the
library; a later call continues it with ``Range: bytes=N-`` (re-hashing what is there
first), and the file is linked into the library only when its size and sha256 match
the hub's LFS metadata. A damaged file is deleted; any other failure keeps the part.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core import part_file
from app.core.download_job import STATES, DownloadJob, jobs_for
from app.core.errors import DownloadError, HubError
from app.core.hub_files import check_repo_id, safe_file_name
from app.core.ranged_fetch import (
    FULL_ERRNOS,
    KEPT,
    DownloadCancelled,
    RangedFetch,
    disk_full,
)

__all__ = ["STATES", "DownloadCancelled", "DownloadJob", "jobs_for", "transfer"]

log = logging.getLogger(__name__)

MARGIN = 64 << 20          # free space kept beyond the download itself
CHUNK = 1 << 20
HASH_PROGRESS_INTERVAL_S = 0.1
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _free_space(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def transfer(job: DownloadJob, *, url: str, headers: dict[str, str], part_path: Path,
             library_dir: Path, cancel: threading.Event, progress: Callable[[int], None],
             stall_timeout: float = 30.0,
             free_space: Callable[[Path], int] = _free_space) -> Path:
    """Download ``job`` into ``part_path`` (continuing it), verify it, move it to the library.

    Returns the file's path in ``library_dir``. ``progress`` gets the bytes received so
    far, at most about ten times a second. Raises ``DownloadCancelled`` soon after
    ``cancel`` is set, ``DiskFullError`` when space runs out, ``DownloadError`` for
    every other known failure (a file that cannot be read or written included).
    """
    try:
        return _transfer(job, url, headers, part_path, library_dir, cancel, progress,
                         stall_timeout, free_space)
    except OSError as exc:
        where = exc.filename or part_path
        raise DownloadError(f"Could not read or write {where} while downloading "
                            f"{job.target_name}: {exc.strerror or exc}.", KEPT) from exc


def _transfer(job: DownloadJob, url: str, headers: dict[str, str], part_path: Path,
              library_dir: Path, cancel: threading.Event, progress: Callable[[int], None],
              stall_timeout: float, free_space: Callable[[Path], int]) -> Path:
    if safe_file_name(job.target_name) != job.target_name:
        raise DownloadError(f"{job.target_name!r} is not a plain file name.")
    if not _SHA256.fullmatch(job.sha256):
        raise DownloadError(f"Hugging Face gives no sha256 for {job.target_name}, so it "
                            "could not be verified; it was not downloaded.",
                            "Choose another file of this model.")
    if job.target_dir:
        try:
            check_repo_id(job.target_dir)
        except HubError as exc:
            raise DownloadError(f"{job.target_dir!r} is not a safe library folder.") from exc
    final = library_dir / job.target
    if _already_there(job, final, cancel):
        part_path.unlink(missing_ok=True)
        return final
    part_path.parent.mkdir(parents=True, exist_ok=True)
    have = part_file.trusted_length(part_path)
    if have > job.size:
        part_path.unlink()
        part_file.forget(part_path)
        have = 0
    _check_space(job, part_path.parent, job.size - have, free_space)
    digest = _hash_part(part_path, have, cancel, progress)  # resuming: check what is there
    if have < job.size:
        fetch = RangedFetch(job, url, headers, part_path, cancel, progress, stall_timeout,
                            free_space)
        digest = fetch.run(have, digest)
    if part_path.stat().st_size != job.size or digest.hexdigest() != job.sha256:
        part_path.unlink(missing_ok=True)
        part_file.forget(part_path)
        raise DownloadError(f"{job.target_name} did not match the checksum Hugging Face "
                            "published: the file was damaged in transit; it was deleted.",
                            "Retry to download it again.")
    path = _place(job, part_path, final, free_space, cancel)
    part_file.forget(part_path)
    progress(job.size)
    log.info("Downloaded and verified %s", path)
    return path


def _already_there(job: DownloadJob, final: Path, cancel: threading.Event) -> bool:
    """True if the library has this very file; DownloadError if another one has its name."""
    if not final.exists():
        return False
    if final.stat().st_size == job.size and _sha256_of(final, cancel) == job.sha256:
        return True
    raise DownloadError(f"A different file named {job.target_name} is already in your library.",
                        "Rename or delete that file, then retry the download.")


def _check_space(job: DownloadJob, folder: Path, remaining: int,
                 free_space: Callable[[Path], int]) -> None:
    free = free_space(folder)
    if free < remaining + MARGIN:
        raise disk_full(job, folder, remaining + MARGIN, free)


def _sha256_of(path: Path, cancel: threading.Event | None = None) -> str:
    return _hash_part(path, path.stat().st_size, cancel).hexdigest()


def _hash_part(path: Path, length: int, cancel: threading.Event | None,
               progress: Callable[[int], None] | None = None) -> Any:
    """The sha256 of the first ``length`` bytes; ``progress`` hears how far it got."""
    digest = hashlib.sha256()
    done, reported = 0, time.monotonic()
    if length:
        with path.open("rb") as handle:
            while chunk := handle.read(min(CHUNK, length)):
                if cancel is not None and cancel.is_set():
                    raise DownloadCancelled
                digest.update(chunk)
                length -= len(chunk)
                done += len(chunk)
                if progress is not None and \
                        time.monotonic() - reported >= HASH_PROGRESS_INTERVAL_S:
                    reported = time.monotonic()
                    progress(done)  # re-reading a 10 GB part takes seconds: show it moving
    return digest


def _place(job: DownloadJob, part_path: Path, final: Path,
           free_space: Callable[[Path], int], cancel: threading.Event) -> Path:
    """Move the verified part into the library without ever replacing another file."""
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(part_path, final)  # fails if ``final`` exists: nothing is overwritten
    except FileExistsError:
        if not _already_there(job, final, cancel):  # it vanished meanwhile
            os.link(part_path, final)
    except OSError:  # another file system, or no hard links there: copy
        _copy_in(job, part_path, final, free_space, cancel)
    part_path.unlink(missing_ok=True)
    return final


def _copy_in(job: DownloadJob, part_path: Path, final: Path,
             free_space: Callable[[Path], int], cancel: threading.Event) -> None:
    staging = final.with_name(f".{final.name}.{job.id}.part")
    try:
        with part_path.open("rb") as src, staging.open("wb") as dst:
            while chunk := src.read(CHUNK):
                if cancel.is_set():  # the part stays; a resume only has to copy again
                    raise DownloadCancelled
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        if final.exists():
            _already_there(job, final, cancel)
            return
        os.replace(staging, final)
    except OSError as exc:
        if exc.errno in FULL_ERRNOS:
            raise disk_full(job, final.parent, job.size, free_space(final.parent)) from exc
        raise DownloadError(f"Could not add {job.target_name} to the library: "
                            f"{exc.strerror}.", KEPT) from exc
    finally:
        staging.unlink(missing_ok=True)
