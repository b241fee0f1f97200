"""Runs the download queue: one file at a time, on the background pool, with speed and ETA."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.download_queue import DownloadQueue
from app.core.downloads import DownloadCancelled, DownloadJob, transfer
from app.core.errors import HearthError, NetworkDownloadError
from app.core.hub import HubClient
from app.core.units import human_duration
from app.ui.background import BackgroundOp

log = logging.getLogger(__name__)

_SPEED_WINDOW_S = 5.0  # speed is averaged over the last few seconds
# A download broken off by the network is tried again by itself after these pauses.
RETRY_DELAYS_S = (5.0, 20.0, 60.0)


class _Meter:
    """Recent (time, bytes) samples of one transfer, for its speed and remaining time."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, received: int) -> None:
        now = time.monotonic()
        self.samples.append((now, received))
        while len(self.samples) > 2 and now - self.samples[0][0] > _SPEED_WINDOW_S:
            self.samples.popleft()

    def speed(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


class DownloadRunner(QObject):
    """Starts queued downloads in order and maps each outcome to the job's state.

    Signals:
        job_changed(str): a job's state or progress changed (its id).
        jobs_changed(): a job was added or removed.
        file_ready(str): a verified file entered the library (its path).
    """

    job_changed = Signal(str)
    jobs_changed = Signal()
    file_ready = Signal(str)

    def __init__(self, queue: DownloadQueue, client: Callable[[], HubClient],
                 parent: QObject | None = None, stall_timeout: float = 30.0) -> None:
        super().__init__(parent)
        self.queue = queue
        self._client = client
        self._stall_timeout = stall_timeout
        self._active: DownloadJob | None = None
        self._cancel = threading.Event()
        self._stopped = threading.Event()  # set when the running transfer has returned
        self._stopped.set()
        self._stop_as = "paused"  # what a cancelled transfer becomes: paused or cancelled
        self._meters: dict[str, _Meter] = {}
        self._closing = False
        self.retry_delays: tuple[float, ...] = RETRY_DELAYS_S
        self._retries: dict[str, int] = {}  # automatic retries in a row, by job
        self._retry_from: dict[str, int] = {}  # bytes the job had when it last broke off
        self._waiting: dict[str, int] = {}  # jobs waiting to be retried: the wait's number
        self._waits = 0
        if not queue.owner:
            log.info("Another Hearth runs the downloads of %s", queue.state_dir)

    # -- what the pages call -------------------------------------------------------------
    def add(self, jobs: list[DownloadJob]) -> list[DownloadJob]:
        """Queue the parts of one model, all or none (DownloadError for a duplicate)."""
        self._take_over()
        jobs = self.queue.add_all(jobs)  # DownloadError while another Hearth owns the queue
        self.jobs_changed.emit()
        self.pump()
        return jobs

    def pause(self, job_id: str) -> None:
        """Stop a download, keeping what arrived; ``resume`` continues from there."""
        self._take_over()
        self._stop(job_id, "paused")

    def cancel(self, job_id: str) -> None:
        """Stop a download and delete what arrived."""
        self._take_over()
        self._stop(job_id, "cancelled")

    def resume(self, job_id: str) -> None:
        """Queue a paused or failed download again (it continues where it stopped)."""
        self._retries.pop(job_id, None)  # the user's retry: automatic ones start anew
        self._waiting.pop(job_id, None)
        self._take_over()
        self._requeue(job_id)

    def _requeue(self, job_id: str) -> None:
        self.queue.resume(job_id)
        self.job_changed.emit(job_id)
        self.pump()

    def remove(self, job_id: str) -> None:
        """Forget a finished or cancelled download."""
        self._take_over()
        self.queue.remove(job_id)
        self._meters.pop(job_id, None)
        self.jobs_changed.emit()

    def speed(self, job_id: str) -> float:
        """Bytes per second over the last few seconds (0 when not downloading)."""
        meter = self._meters.get(job_id)
        return meter.speed() if meter and self.is_active(job_id) else 0.0

    @property
    def owner(self) -> bool:
        """Whether this Hearth runs the profile's downloads (not another one)."""
        return self.queue.owner

    def is_active(self, job_id: str) -> bool:
        """Whether this job's transfer is running now."""
        return self._active is not None and self._active.id == job_id

    def pump(self) -> None:
        """Start the next queued download if none is running."""
        if self._active is not None or self._closing or not self._take_over():
            return
        job = self.queue.next_runnable()
        if job is None:
            return
        self.queue.mark(job.id, "downloading")
        self._active, self._cancel, self._stop_as = job, threading.Event(), "paused"
        self._stopped = threading.Event()
        self._meters[job.id] = _Meter()
        self.job_changed.emit(job.id)
        job_id = job.id

        def progressed(received: int) -> None:
            self._progress(job_id, received)

        def transferred(path: Path) -> None:
            self._finished(job_id, path, None)

        def failed(exc: BaseException) -> None:
            self._finished(job_id, None, exc)

        # The client is made on the pool's thread: reading the token may wait on the keyring.
        BackgroundOp(self._transfer, job, self._client, part_path=self.queue.part_path(job),
                     library_dir=self.queue.library_dir, cancel=self._cancel,
                     stall_timeout=self._stall_timeout, stopped=self._stopped) \
            .with_progress(progressed) \
            .success(transferred) \
            .failure(failed) \
            .run_in_background()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the running transfer for now; it resumes when the app starts again.

        Waits (up to ``timeout`` seconds) until the transfer has let go of its part file.
        """
        self._closing = True
        for job_id in self._waiting:  # a retry was promised: the next start keeps it
            self.queue.mark(job_id, "queued")
        if self._active is not None:
            if not self._cancel.is_set():
                self.queue.mark(self._active.id, "queued")  # resumed at the next start
            elif self._stop_as == "cancelled":
                self.queue.mark(self._active.id, "cancelled")  # the part goes at next start
            else:
                self.queue.mark(self._active.id, "paused")
            self._cancel.set()
            if not self._stopped.wait(timeout):
                log.warning("The download of %s did not stop within %.0f s",
                            self._active.target_name, timeout)
        self.queue.close()  # another Hearth may run the downloads now

    @staticmethod
    def _transfer(job: DownloadJob, client: Callable[[], HubClient], stopped: threading.Event,
                  **options: Any) -> Path:
        try:
            hub = client()
            return transfer(job, url=hub.file_url(job.repo_id, job.revision, job.path),
                            headers=hub.headers(), **options)
        finally:
            stopped.set()

    # -- internals -----------------------------------------------------------------------
    def _take_over(self) -> bool:
        """Own the queue, if the Hearth that did has closed; True when this one does.

        (Otherwise the queue's changes raise DownloadError, which the pages show.)
        """
        if self.queue.owner:
            return True
        if not self.queue.claim():
            return False
        log.info("This Hearth now runs the downloads of %s", self.queue.state_dir)
        self.jobs_changed.emit()  # the jobs as the other Hearth left them
        QTimer.singleShot(0, self.pump)
        return True

    def _stop(self, job_id: str, state: str) -> None:
        self._waiting.pop(job_id, None)
        if self.is_active(job_id):
            self._stop_as = state
            self._cancel.set()  # the transfer's failure callback records the state
            return
        if state == "cancelled":
            self.queue.cancel(job_id)
        else:
            self.queue.pause(job_id)
        self.job_changed.emit(job_id)

    def _progress(self, job_id: str, received: int) -> None:
        job = self.queue.get(job_id)
        if job is None or self._closing:
            return
        job.received = received
        self._meters.setdefault(job_id, _Meter()).add(received)
        self.job_changed.emit(job_id)

    def _finished(self, job_id: str, path: Path | None, error: BaseException | None) -> None:
        self._active = None
        if self._closing:
            return
        if error is None:
            self._retries.pop(job_id, None)
            self.queue.mark(job_id, "done", received=self._size(job_id))
            self.file_ready.emit(str(path))
        elif isinstance(error, DownloadCancelled) or self._cancel.is_set():
            # Stopped by the user (a failure while stopping is no news to them).
            if self._stop_as == "cancelled":
                self.queue.cancel(job_id)
            else:
                self.queue.pause(job_id)
        elif isinstance(error, NetworkDownloadError) and self._may_retry(job_id):
            self._retry_later(job_id, error)
        elif isinstance(error, HearthError):
            log.info("Download %s failed: %s", job_id, error)
            self.queue.mark(job_id, "failed", error=str(error))
        else:
            self.queue.mark(job_id, "failed", error=f"Unexpected error: {error}")
            self.job_changed.emit(job_id)
            QTimer.singleShot(0, self.pump)  # the rest of the queue goes on
            raise error  # a bug: the crash dialog shows it
        self.job_changed.emit(job_id)
        self.pump()

    def _may_retry(self, job_id: str) -> bool:
        job = self.queue.get(job_id)
        if job is not None and job.received > self._retry_from.get(job_id, -1):
            self._retries[job_id] = 0  # it got further than last time: a fresh start
        return self._retries.get(job_id, 0) < len(self.retry_delays)

    def _retry_later(self, job_id: str, error: NetworkDownloadError) -> None:
        attempt = self._retries.get(job_id, 0)
        self._retries[job_id] = attempt + 1
        job = self.queue.get(job_id)
        self._retry_from[job_id] = job.received if job else 0
        delay = self.retry_delays[attempt]
        log.info("Download %s broke off (%s); trying again in %.0f s", job_id, error, delay)
        self.queue.mark(job_id, "failed", error=f"{error} Trying again in "
                        f"{human_duration(delay)} ({attempt + 1} of {len(self.retry_delays)}).")
        self._waits += 1
        self._waiting[job_id] = wait = self._waits

        def retry() -> None:
            # Not if the user acted meanwhile (Retry, Cancel) or Hearth is closing.
            if self._waiting.get(job_id) == wait and not self._closing:
                del self._waiting[job_id]
                self._requeue(job_id)

        QTimer.singleShot(int(delay * 1000), self, retry)

    def _size(self, job_id: str) -> int:
        job = self.queue.get(job_id)
        return job.size if job else 0
