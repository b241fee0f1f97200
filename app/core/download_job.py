"""A download job: one hub file on its way into the library, as persisted in the queue."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from app.core.hub_files import HubFile, HubPart, check_repo_id, safe_file_name

STATES = ("queued", "downloading", "paused", "failed", "done", "cancelled")
ACTIVE_STATES = ("queued", "downloading", "paused", "failed")  # not finished or given up


@dataclass
class DownloadJob:
    """One file (one part of a split model) to download, verify and place in the library.

    ``size`` and ``sha256`` are what the hub's LFS metadata promised; the file enters the
    library only if it matches both.
    """

    id: str              # uuid4 hex; also names the partial file
    repo_id: str
    revision: str        # the commit the listing came from
    path: str            # the file's path in the repo
    size: int
    sha256: str
    target_name: str     # a safe basename in the library
    state: str = "queued"
    received: int = 0
    error: str = ""
    added_at: float = field(default_factory=time.time)
    # The library sub-folder, ``owner/name`` of the repo: uploads of one model by different
    # people often share file names. "" (jobs queued by an older Hearth): the library itself.
    target_dir: str = ""

    @property
    def target(self) -> str:
        """Where the file goes, relative to the library folder."""
        return f"{self.target_dir}/{self.target_name}" if self.target_dir else self.target_name

    @classmethod
    def for_part(cls, repo_id: str, revision: str, part: HubPart) -> DownloadJob:
        """A new queued job for one hub file (``HubError`` if its name is unsafe)."""
        return cls(id=uuid.uuid4().hex, repo_id=repo_id, revision=revision, path=part.path,
                   size=part.size, sha256=part.sha256, target_name=safe_file_name(part.path),
                   target_dir=check_repo_id(repo_id))

    def to_dict(self) -> dict[str, Any]:
        """The job as JSON-ready values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DownloadJob:
        """A job from ``to_dict``'s output; ``ValueError``/``TypeError`` if it is not one."""
        if not isinstance(data, dict):
            raise TypeError("a download job must be a JSON object")
        values: dict[str, Any] = {}
        kinds: dict[str, type | tuple[type, ...]] = {"size": int, "received": int,
                                                     "added_at": (int, float)}
        for spec in fields(cls):
            if spec.name not in data:
                if spec.name in ("state", "received", "error", "added_at", "target_dir"):
                    continue
                raise ValueError(f"download job without {spec.name!r}")
            value = data[spec.name]
            wanted = kinds.get(spec.name, str)
            if not isinstance(value, wanted) or isinstance(value, bool):
                raise TypeError(f"download job field {spec.name!r} has a wrong type")
            values[spec.name] = value
        job = cls(**values)
        if job.state not in STATES:
            raise ValueError(f"unknown download state {job.state!r}")
        if job.size < 0 or job.received < 0:
            raise ValueError("negative size in a download job")
        return job


def jobs_for(file: HubFile) -> list[DownloadJob]:
    """New queued jobs for a hub model: one per part, in order."""
    return [DownloadJob.for_part(file.repo_id, file.revision, part) for part in file.parts]
