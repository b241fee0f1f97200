"""The download queue's state: which files are queued, paused, done…, kept across restarts.

``<state_dir>/queue.json`` lists the jobs (saved atomically after every change) and each
unfinished job's bytes so far are in ``<state_dir>/<id>.part``. Running transfers is the
caller's business (``downloads.transfer`` on a background thread); this class only keeps
the record, so it is Qt-free and safe to call from one thread at a time or several.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from filelock import FileLock, Timeout

from app.core import part_file
from app.core.atomic_file import write_text_atomically
from app.core.download_job import ACTIVE_STATES, STATES, DownloadJob
from app.core.errors import DownloadError

log = logging.getLogger(__name__)

QUEUE_FILE = "queue.json"
LOCK_FILE = "queue.lock"
FORMAT_VERSION = 1


class DownloadQueue:
    """The ordered list of download jobs, persisted in ``state_dir``.

    One Hearth at a time owns a profile's queue (a lock file; the operating system lets
    go of it when that Hearth ends, however it ends): two would write the same part files
    and overwrite each other's queue file. Another one sees the jobs but cannot change
    them until it ``claim``s the queue. Opening (or claiming) it restores what a crash or
    restart left: jobs that were downloading are queued again (they continue where their
    part file ends).
    """

    def __init__(self, state_dir: Path, library_dir: Path) -> None:
        self.state_dir = state_dir
        self.library_dir = library_dir
        self.jobs: list[DownloadJob] = []
        self._lock = threading.RLock()
        self._unreadable = False  # the queue file could not be read at start
        state_dir.mkdir(parents=True, exist_ok=True)
        self._file_lock = FileLock(state_dir / LOCK_FILE)
        self.owner = False
        self.claim()
        if not self.owner:
            self._load()  # to show; changed only once claimed

    def claim(self) -> bool:
        """Own the queue if no other Hearth does (again reading what it left); True if so."""
        if self.owner:
            return True
        try:
            self._file_lock.acquire(timeout=0)
        except Timeout:
            return False
        with self._lock:
            self.owner = True
            self.jobs, self._unreadable = [], False
            self._load()
            self.restore_after_restart()
        return True

    def close(self) -> None:
        """Let another Hearth own the queue (the end of the process does this too)."""
        if self.owner:
            self.owner = False
            self._file_lock.release()

    def _require_owner(self) -> None:
        if not self.owner:
            raise DownloadError("Another Hearth window is running this profile's downloads.",
                                "Use that window for downloads, or close it first.")

    @property
    def queue_path(self) -> Path:
        """The JSON file listing the jobs."""
        return self.state_dir / QUEUE_FILE

    def part_path(self, job: DownloadJob) -> Path:
        """Where the job's bytes so far are kept (outside the library)."""
        return self.state_dir / f"{job.id}.part"

    def get(self, job_id: str) -> DownloadJob | None:
        """The job with this id, if any."""
        with self._lock:
            return next((job for job in self.jobs if job.id == job_id), None)

    def add(self, job: DownloadJob) -> DownloadJob:
        """Queue a job; ``DownloadError`` if the same file, or its library name, is queued."""
        return self.add_all([job])[0]

    def add_all(self, jobs: list[DownloadJob]) -> list[DownloadJob]:
        """Queue several jobs (the parts of one model): all of them, or none.

        ``DownloadError`` if one of them is queued already, or would be saved under a name
        another unfinished download (or another of them) will take.
        """
        self._require_owner()
        with self._lock:
            taken = [other for other in self.jobs if other.state in ACTIVE_STATES]
            for job in jobs:
                for other in taken:
                    if (other.repo_id, other.revision, other.path) == \
                            (job.repo_id, job.revision, job.path):
                        raise DownloadError(f"{job.target_name} is already in the download "
                                            "queue.")
                    if other.target == job.target:
                        raise DownloadError(f"Another download will be saved as "
                                            f"{job.target}.",
                                            "Wait for it to finish, or cancel it first.")
                taken.append(job)
            self.jobs.extend(jobs)
            self._save()
        return jobs

    def next_runnable(self) -> DownloadJob | None:
        """The first queued job (the one to start next)."""
        with self._lock:
            return next((job for job in self.jobs if job.state == "queued"), None)

    def mark(self, job_id: str, state: str, *, received: int | None = None,
             error: str = "") -> None:
        """Record a job's new state (and bytes received, error text), then save."""
        if state not in STATES:
            raise ValueError(f"unknown download state {state!r}")
        self._require_owner()
        with self._lock:
            job = self._job(job_id)
            job.state, job.error = state, error
            if received is not None:
                job.received = received
            self._save()

    def pause(self, job_id: str) -> None:
        """Queued or downloading → paused (stop the transfer first; its part is kept)."""
        self._move(job_id, ("queued", "downloading", "paused"), "paused")

    def resume(self, job_id: str) -> None:
        """Paused or failed → queued; it continues from its part file."""
        self._move(job_id, ("paused", "failed", "queued"), "queued")

    def cancel(self, job_id: str) -> None:
        """Give a job up and delete its part file (stop the transfer first)."""
        self._require_owner()
        with self._lock:
            job = self._job(job_id)
            if job.state == "done":
                raise ValueError("a finished download cannot be cancelled")
            job.state, job.received, job.error = "cancelled", 0, ""
            self._delete_part(job)
            self._save()

    def remove(self, job_id: str) -> None:
        """Forget a done or cancelled job (cancel a failed one first: that deletes its part)."""
        self._require_owner()
        with self._lock:
            job = self._job(job_id)
            if job.state not in ("done", "cancelled"):
                raise ValueError(f"a {job.state} download cannot be removed; cancel it first")
            self._delete_part(job)
            self.jobs.remove(job)
            self._save()

    def restore_after_restart(self) -> None:
        """Requeue jobs left downloading; set every unfinished job's bytes from its part."""
        self._require_owner()
        with self._lock:
            before = [job.to_dict() for job in self.jobs]
            for job in self.jobs:
                if job.state == "downloading":
                    job.state = "queued"
                if job.state in ACTIVE_STATES:
                    part = self.part_path(job)
                    try:
                        job.received = min(part_file.trusted_length(part), job.size)
                    except OSError as exc:  # e.g. no permission: the transfer will say so
                        log.warning("Could not check the partial download %s: %s", part, exc)
                        job.received = 0
            self._drop_orphan_parts()
            if [job.to_dict() for job in self.jobs] != before:
                self._save()  # not at every start: only when a restart changed something

    # -- internals ---------------------------------------------------------------------
    def _job(self, job_id: str) -> DownloadJob:
        job = self.get(job_id)
        if job is None:
            raise KeyError(f"no download job {job_id!r}")
        return job

    def _move(self, job_id: str, allowed: tuple[str, ...], state: str) -> None:
        self._require_owner()
        with self._lock:
            job = self._job(job_id)
            if job.state not in allowed:
                raise ValueError(f"a {job.state} download cannot become {state}")
            job.state = state
            if state == "queued":
                job.error = ""
            self._save()

    def _delete_part(self, job: DownloadJob) -> None:
        try:
            self.part_path(job).unlink(missing_ok=True)
            part_file.forget(self.part_path(job))
        except OSError as exc:  # e.g. still open on Windows: it is dropped at the next start
            log.warning("Could not delete %s: %s", self.part_path(job), exc)

    def _drop_orphan_parts(self) -> None:
        """Delete part files no unfinished job owns (left by a cancelled or removed job).

        Not after the queue file could not be read: those parts may be all that is left
        of downloads the user still wants, and a newer Hearth may read that file again.
        """
        if self._unreadable:
            return
        owned = {self.part_path(job).stem for job in self.jobs if job.state in ACTIVE_STATES}
        for part in self.state_dir.glob("*.part"):
            if part.stem not in owned:
                log.info("Deleting the partial download %s: no job owns it", part)
                part.unlink(missing_ok=True)
        for side in self.state_dir.glob("*.synced"):
            if side.stem not in owned:
                side.unlink(missing_ok=True)

    def _load(self) -> None:
        path = self.queue_path
        if not path.exists():
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
                raise ValueError(f"not a version {FORMAT_VERSION} download queue")
            items = list(data["jobs"])
        except (OSError, ValueError, TypeError, KeyError) as exc:
            bad = path.with_name(path.name + ".bad")
            log.warning("The download queue %s is unreadable (%s); it was set aside as %s "
                        "and the queue starts empty (partial files are kept).", path, exc, bad)
            os.replace(path, bad)
            self.jobs, self._unreadable = [], True
            return
        for item in items:
            try:
                self.jobs.append(DownloadJob.from_dict(item))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                log.warning("Skipping a damaged entry of the download queue %s: %s", path, exc)
                self._unreadable = True  # its part file, if any, is kept

    def _save(self) -> None:
        """Write the queue file; when that fails (a full disk), the queue goes on in memory."""
        data = {"version": FORMAT_VERSION, "jobs": [job.to_dict() for job in self.jobs]}
        try:
            write_text_atomically(self.queue_path, json.dumps(data, indent=1))
        except OSError as exc:
            log.warning("Could not save the download queue %s (%s); the downloads go on, "
                        "but a restart now would forget the latest changes.",
                        self.queue_path, exc)
