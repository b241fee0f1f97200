"""A part file is trusted whole after an app crash, and only its fsynced bytes after a reboot."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import psutil
import pytest

from app.core import part_file
from app.core.downloads import DownloadJob, transfer
from app.core.errors import DownloadError
from app.core.hub import HubClient
from app.core.hub_files import HubPart
from tests.hub_server import LocalHub

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


def _part(tmp_path: Path, length: int) -> Path:
    part = tmp_path / "job.part"
    part.write_bytes(PAYLOAD[:length])
    return part


def test_without_a_restart_the_whole_part_is_used(tmp_path: Path) -> None:
    part = _part(tmp_path, 5000)
    part_file.record_synced(part, 1000)
    assert part_file.trusted_length(part) == 5000 and part.stat().st_size == 5000


def test_after_a_restart_the_part_is_cut_back_to_its_synced_bytes(tmp_path: Path) -> None:
    part = _part(tmp_path, 5000)
    part_file.synced_path(part).write_text(json.dumps(
        {"length": 1000, "boot": psutil.boot_time() - 86_400}))  # yesterday's boot
    assert part_file.trusted_length(part) == 1000 and part.stat().st_size == 1000
    part.write_bytes(PAYLOAD[:3000])  # more arrived in this boot, not synced yet
    assert part_file.trusted_length(part) == 3000  # the record is of this boot now


@pytest.mark.parametrize("side", [None, "{broken"])
def test_a_part_never_synced_or_with_an_unreadable_record(tmp_path: Path,
                                                          side: str | None) -> None:
    part = _part(tmp_path, 5000)
    if side is not None:
        part_file.synced_path(part).write_text(side)
        assert part_file.trusted_length(part) == 0  # nothing known to be safe
    else:
        assert part_file.trusted_length(part) == 5000  # never synced: nothing to go by
    assert part_file.trusted_length(tmp_path / "missing.part") == 0


def test_a_download_after_a_reboot_resumes_from_the_synced_bytes(
        hub: LocalHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(part_file, "SYNC_STEP", 256 * 1024)
    repo = hub.add_repo("org/P-GGUF", {"p-Q4_0.gguf": PAYLOAD})
    job = DownloadJob.for_part("org/P-GGUF", repo.sha,
                               HubPart("p-Q4_0.gguf", len(PAYLOAD), repo.files[
                                   "p-Q4_0.gguf"].sha256))
    part = tmp_path / "downloads" / f"{job.id}.part"
    hub.fail("p-Q4_0.gguf", "stall", after=700_000)
    url = HubClient().file_url(job.repo_id, job.revision, job.path)
    options = {"url": url, "headers": {}, "part_path": part,
               "library_dir": tmp_path / "library", "progress": lambda _n: None,
               "stall_timeout": 0.5}
    with pytest.raises(DownloadError, match="stalled"):
        transfer(job, cancel=threading.Event(), **options)
    hub.release()
    record = json.loads(part_file.synced_path(part).read_text())
    synced = record["length"]
    assert 256 * 1024 <= synced < part.stat().st_size  # synced on the way, then it stalled
    # A power cut: the tail after the last sync is garbage, and the computer restarted.
    with part.open("r+b") as handle:
        handle.seek(record["length"])
        handle.write(b"\0" * 1000)
    record["boot"] -= 3600
    record["boot_id"] = "the boot before"
    part_file.synced_path(part).write_text(json.dumps(record))
    path = transfer(job, cancel=threading.Event(), **options)
    assert path.read_bytes() == PAYLOAD
    assert hub.file_requests("p-Q4_0.gguf")[-1].range_start == synced
    assert not part.exists() and not part_file.synced_path(part).exists()
