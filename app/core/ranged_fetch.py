"""The HTTP half of a download: request a file from an offset, stream it into a part file.

Stalls (no byte for ``stall_timeout``), dropped connections, error answers and a full
disk become ``DownloadError``s that keep the part file; setting ``cancel`` ends the
transfer within a moment even while the server sends nothing (the socket is shut).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import io
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

from app.core import part_file
from app.core.download_job import DownloadJob
from app.core.errors import DiskFullError, DownloadError, NetworkDownloadError
from app.core.hub_errors import network_reason, status_problem
from app.core.units import human_size

PROGRESS_INTERVAL_S = 0.1
KEPT = "What arrived so far is kept: retry to continue where it stopped."
FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


class DownloadCancelled(Exception):
    """The transfer stopped because its cancel flag was set; the part file is kept."""


def disk_full(job: DownloadJob, folder: Path, need: int, free: int) -> DiskFullError:
    """The error for ``job`` needing ``need`` bytes where ``folder`` has ``free``."""
    return DiskFullError(f"Not enough disk space for {job.target_name}: needs "
                         f"{human_size(need)}, {human_size(free)} free on {folder}.",
                         "Free some disk space, then retry the download.")


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process: loading the CA bundle takes ~40 ms each time."""
    return httpx2.create_ssl_context()


class RangedFetch:
    """One request of a file from an offset, streamed into the job's part file."""

    def __init__(self, job: DownloadJob, url: str, headers: dict[str, str], part_path: Path,
                 cancel: threading.Event, progress: Callable[[int], None],
                 stall_timeout: float, free_space: Callable[[Path], int]) -> None:
        self.job, self.url, self.headers, self.part_path = job, url, headers, part_path
        self.cancel, self.progress, self.stall = cancel, progress, stall_timeout
        self.free_space = free_space
        self.received = 0

    def run(self, start: int, digest: Any) -> Any:
        """Fetch bytes ``start``.. into the part file; return the whole file's digest.

        ``digest`` holds the hash of the bytes before ``start``; a server that ignores
        Range sends everything, and the part and the hash start over.
        """
        self.received = start
        headers = {**self.headers, "Accept-Encoding": "identity"}
        if start:
            headers["Range"] = f"bytes={start}-"
        timeout = httpx2.Timeout(self.stall, connect=min(self.stall, 20.0))
        try:
            with httpx2.Client(follow_redirects=True, timeout=timeout, verify=_tls()) as client, \
                    client.stream("GET", self.url, headers=headers) as response:
                if self._accept(response, start) != start:
                    start, digest = 0, hashlib.sha256()
                self._stream(response, start, digest)
                return digest
        except (DownloadCancelled, DownloadError):
            raise
        except httpx2.TimeoutException as exc:
            raise self._failed(f"The download of {self.job.target_name} stalled: no data "
                               f"for {self.stall:g} s.") from exc
        except httpx2.ConnectError as exc:
            raise self._failed(f"Can't reach Hugging Face for {self.job.target_name}: "
                               f"{network_reason(exc)}.") from exc
        except httpx2.TransportError as exc:
            raise self._failed(f"The connection dropped while downloading "
                               f"{self.job.target_name} ({human_size(self.received)} of "
                               f"{human_size(self.job.size)}): {network_reason(exc)}.") from exc
        except httpx2.HTTPError as exc:  # e.g. too many redirects
            raise self._failed(f"Downloading {self.job.target_name} failed: {exc}.",
                               network=False) from exc

    def _failed(self, message: str, network: bool = True) -> Exception:
        if self.cancel.is_set():  # the cancel watcher shut the socket
            return DownloadCancelled()
        return (NetworkDownloadError if network else DownloadError)(message, KEPT)

    def _accept(self, response: httpx2.Response, start: int) -> int:
        """The offset the answer starts at (0 if the server ignored Range), or raise."""
        status = response.status_code
        if status >= 400:
            message, hint = status_problem(status, response.headers.get("X-Error-Code", ""),
                                           self.job.target_name,
                                           any(k.lower() == "authorization" for k in self.headers))
            if status >= 500:  # the server's trouble, usually for a moment
                raise NetworkDownloadError(message, f"{hint} {KEPT}")
            raise DownloadError(message, hint)
        if status == 200:
            start = 0
        elif status == 206:
            expected = f"bytes {start}-{self.job.size - 1}/{self.job.size}"
            if response.headers.get("Content-Range", "").strip() != expected:
                raise DownloadError(f"The server sent the wrong part of {self.job.target_name} "
                                    f"({response.headers.get('Content-Range', 'no range')}).",
                                    KEPT)
        else:
            raise DownloadError(f"Hugging Face answered {status} for {self.job.target_name}.",
                                KEPT)
        length = response.headers.get("Content-Length", "")
        if length and (not length.isdigit() or int(length) != self.job.size - start):
            raise DownloadError(f"{self.job.target_name} on Hugging Face is not the size the "
                                "listing gave; the repository may have changed.",
                                "Open the repository again and download the file anew.")
        return start

    def _stream(self, response: httpx2.Response, start: int, digest: Any) -> None:
        self.received = start
        watcher = CancelWatcher(self.cancel, response)
        try:
            # Unbuffered: what was reported as received is in the file even if the app is
            # killed the next moment.
            with self.part_path.open("r+b" if self.part_path.exists() else "wb",
                                     buffering=0) as out:
                out.seek(start)
                out.truncate(start)
                # The record never claims more than is kept: the bytes kept were re-read
                # and hashed, so they are synced and recorded; a fresh start has none.
                if start:
                    os.fsync(out.fileno())
                    part_file.record_synced(self.part_path, start)
                else:
                    part_file.forget(self.part_path)
                self.progress(start)
                self._copy(response, out, digest)
                out.flush()
                os.fsync(out.fileno())
                if self.received < self.job.size:  # stopped early: what arrived stays safe
                    part_file.record_synced(self.part_path, self.received)
        except OSError as exc:
            if exc.errno not in FULL_ERRNOS:
                raise DownloadError(f"Could not write {self.part_path}: {exc.strerror}.",
                                    KEPT) from exc
            free = self.free_space(self.part_path.parent)
            raise disk_full(self.job, self.part_path.parent,
                            self.job.size - self.received, free) from exc
        finally:
            watcher.stop()
        if self.cancel.is_set():
            raise DownloadCancelled
        if self.received != self.job.size:
            raise NetworkDownloadError(f"The connection ended early while downloading "
                                f"{self.job.target_name} ({human_size(self.received)} of "
                                f"{human_size(self.job.size)}).", KEPT)

    def _copy(self, response: httpx2.Response, out: io.FileIO, digest: Any) -> None:
        reported = time.monotonic()
        synced = self.received
        for chunk in response.iter_raw():  # as the bytes arrive: none wait in a buffer
            if self.cancel.is_set():
                return
            if self.received + len(chunk) > self.job.size:
                raise DownloadError(f"The server sent more of {self.job.target_name} than "
                                    "its listed size.", "Retry the download.")
            view = memoryview(chunk)
            while view:  # a raw write may be short (e.g. at a file size limit)
                written = out.write(view)
                if not written:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[written:]
            digest.update(chunk)
            self.received += len(chunk)
            if self.received - synced >= part_file.SYNC_STEP:
                os.fsync(out.fileno())  # what a power cut can no longer take (part_file.py)
                synced = self.received
                part_file.record_synced(self.part_path, synced)
            now = time.monotonic()
            if now - reported >= PROGRESS_INTERVAL_S:
                reported = now
                self.progress(self.received)


class CancelWatcher:
    """Shuts the response's socket when ``cancel`` is set, so a blocked read ends at once."""

    def __init__(self, cancel: threading.Event, response: httpx2.Response) -> None:
        self._done = threading.Event()
        stream = response.extensions.get("network_stream")
        self._socket = stream.get_extra_info("socket") if stream is not None else None
        self._cancel = cancel
        self._thread = threading.Thread(target=self._watch, name="download-cancel",
                                        daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.is_set():
            if self._cancel.wait(0.05):
                if not self._done.is_set() and isinstance(self._socket, socket.socket):
                    with contextlib.suppress(OSError):  # closed: the read ends anyway
                        self._socket.shutdown(socket.SHUT_RDWR)
                return

    def stop(self) -> None:
        """Stop watching (the transfer ended)."""
        self._done.set()
        self._thread.join()
