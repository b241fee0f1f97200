"""One file's download from the local test hub: resume, verification, faults, disk space."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from app.core.downloads import DownloadCancelled, DownloadJob, jobs_for, transfer
from app.core.errors import DiskFullError, DownloadError, HubError
from app.core.hub import HubClient
from app.core.hub_files import HubPart
from app.core.starter_model import STARTER
from tests.hub_server import LocalHub

ROOT = Path(__file__).resolve().parents[2]
NAME = "m-Q4_0.gguf"
PAYLOAD = random.Random(5).randbytes(2 << 20)  # 2 MiB


def _job(hub: LocalHub, files: dict[str, bytes | Path] | None = None,
         gated: bool = False) -> DownloadJob:
    hub.add_repo("org/M-GGUF", files or {NAME: PAYLOAD}, gated=gated)
    [file] = HubClient().listing("org/M-GGUF").files
    [job] = jobs_for(file)
    return job


def _run(job: DownloadJob, tmp_path: Path, *, cancel: threading.Event | None = None,
         progress: Callable[[int], None] | None = None, token: str | None = None,
         **options: Any) -> Path:
    client = HubClient(token=token)
    return transfer(job, url=client.file_url(job.repo_id, job.revision, job.path),
                    headers=client.headers(), part_path=_part(job, tmp_path),
                    library_dir=tmp_path / "library", cancel=cancel or threading.Event(),
                    progress=progress or (lambda _n: None), **options)


def _part(job: DownloadJob, tmp_path: Path) -> Path:
    return tmp_path / "downloads" / f"{job.id}.part"


def _library(tmp_path: Path) -> list[str]:
    folder = tmp_path / "library"
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def _target(tmp_path: Path, name: str = NAME) -> Path:
    """Where a file of the test repo lands: the library's folder for that repo."""
    return tmp_path / "library" / "org" / "M-GGUF" / name


def test_the_starter_model_downloads_verified_into_the_library(
        hub: LocalHub, tmp_path: Path, starter_gguf: Path) -> None:
    job = _job(hub, {"Smol/" + starter_gguf.name: starter_gguf})
    assert (job.size, job.sha256, job.target_name) == (STARTER.size, STARTER.sha256,
                                                       starter_gguf.name)
    seen: list[int] = []
    path = _run(job, tmp_path, progress=seen.append)
    assert path == _target(tmp_path, starter_gguf.name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == STARTER.sha256
    assert not _part(job, tmp_path).exists()
    assert seen[0] == 0 and seen[-1] == STARTER.size and seen == sorted(seen)
    [request] = hub.file_requests("Smol/" + starter_gguf.name)
    assert request.range_start is None and request.sent == STARTER.size
    assert request.path.split("/")[4] == job.revision  # pinned to the listed commit


def test_pause_then_resume_continues_with_range(hub: LocalHub, tmp_path: Path,
                                                starter_gguf: Path) -> None:
    job = _job(hub, {starter_gguf.name: starter_gguf})
    hub.rate = 50e6
    cancel = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(_run, job, tmp_path, cancel=cancel)
        assert hub.wait_sent(starter_gguf.name, 8 << 20)
        cancel.set()
        stopped = time.monotonic()
        with pytest.raises(DownloadCancelled):
            running.result(timeout=5)
    assert time.monotonic() - stopped < 1
    kept = _part(job, tmp_path).stat().st_size
    assert 0 < kept < job.size  # some bytes may still have been in flight
    assert _library(tmp_path) == []
    hub.rate = None
    path = _run(job, tmp_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == STARTER.sha256
    first, second = hub.file_requests(starter_gguf.name)
    assert first.range_start is None
    assert (second.range_start, second.status) == (kept, 206)
    assert second.sent == job.size - kept  # nothing downloaded twice


def test_cancel_ends_a_stalled_download_at_once(hub: LocalHub, tmp_path: Path) -> None:
    job = _job(hub)
    hub.fail(NAME, "stall")  # headers, then not one byte: the client blocks in a read
    cancel, reading = threading.Event(), threading.Event()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(_run, job, tmp_path, cancel=cancel, stall_timeout=30,
                              progress=lambda _n: reading.set())
        assert reading.wait(5)
        cancel.set()
        stopped = time.monotonic()
        with pytest.raises(DownloadCancelled):
            running.result(timeout=5)
    assert time.monotonic() - stopped < 1


def test_a_damaged_download_is_deleted_and_a_retry_works(hub: LocalHub,
                                                         tmp_path: Path) -> None:
    job = _job(hub)
    hub.fail(NAME, "wrong_bytes")
    with pytest.raises(DownloadError, match="did not match the checksum") as caught:
        _run(job, tmp_path)
    assert "damaged in transit; it was deleted" in caught.value.message
    assert caught.value.hint == "Retry to download it again."
    assert not _part(job, tmp_path).exists() and _library(tmp_path) == []
    assert _run(job, tmp_path).read_bytes() == PAYLOAD


@pytest.mark.parametrize(("kind", "message"), [
    ("404", f"{NAME} is no longer on Hugging Face"),
    ("500", r"Hugging Face had a server error \(500\)"),
])
def test_an_error_answer_is_clear_and_a_retry_works(hub: LocalHub, tmp_path: Path,
                                                    kind: str, message: str) -> None:
    job = _job(hub)
    hub.fail(NAME, kind)
    with pytest.raises(DownloadError, match=message) as caught:
        _run(job, tmp_path)
    assert caught.value.hint
    assert _library(tmp_path) == []
    assert _run(job, tmp_path).read_bytes() == PAYLOAD


@pytest.mark.parametrize(("kind", "message"), [
    ("reset", f"The connection dropped while downloading {NAME}"),
    ("stall", f"The download of {NAME} stalled: no data for 0.3 s"),
])
def test_a_broken_transfer_keeps_its_part_and_a_retry_resumes(
        hub: LocalHub, tmp_path: Path, kind: str, message: str) -> None:
    job = _job(hub)
    hub.fail(NAME, kind, after=700_000)
    with pytest.raises(DownloadError, match=message) as caught:
        _run(job, tmp_path, stall_timeout=0.3)
    assert "retry to continue" in caught.value.hint
    hub.release()
    kept = _part(job, tmp_path).stat().st_size
    assert 0 < kept <= 700_000 and _library(tmp_path) == []
    assert _run(job, tmp_path).read_bytes() == PAYLOAD
    assert hub.file_requests(NAME)[-1].range_start == kept


def test_a_server_ignoring_range_starts_over(hub: LocalHub, tmp_path: Path) -> None:
    job = _job(hub)
    part = _part(job, tmp_path)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 1000)  # wrong bytes: a restart from 0 must replace them
    hub.fail(NAME, "no_range")
    assert _run(job, tmp_path).read_bytes() == PAYLOAD
    [request] = hub.file_requests(NAME)
    assert (request.range_start, request.status, request.sent) == (1000, 200, len(PAYLOAD))


def test_a_gated_file_needs_the_token(hub: LocalHub, tmp_path: Path) -> None:
    job = _job(hub, gated=True)
    with pytest.raises(DownloadError, match="is gated: Hugging Face needs an access token"):
        _run(job, tmp_path)
    with pytest.raises(DownloadError, match="the access token was rejected"):
        _run(job, tmp_path, token="hf_wrong")
    assert _run(job, tmp_path, token=hub.token).read_bytes() == PAYLOAD


def test_the_token_is_not_sent_to_another_host_after_a_redirect(
        hub: LocalHub, tmp_path: Path) -> None:
    mirror = LocalHub().start()  # another port: another origin
    try:
        repo = mirror.add_repo("org/M-GGUF", {NAME: PAYLOAD})
        job = _job(hub)
        hub.redirects[NAME] = f"{mirror.url}/org/M-GGUF/resolve/{repo.sha}/{NAME}"
        assert _run(job, tmp_path, token="hf_secret").read_bytes() == PAYLOAD
        assert hub.file_requests(NAME)[0].authorization == "Bearer hf_secret"
        assert mirror.file_requests(NAME)[0].authorization == ""
    finally:
        mirror.shutdown()


def test_too_little_free_space_is_refused_before_downloading(hub: LocalHub,
                                                             tmp_path: Path) -> None:
    job = _job(hub)
    free = 64 * 2**20 + 1000  # the 64 MiB margin plus a little, less than the file
    with pytest.raises(DiskFullError, match=rf"Not enough disk space for {NAME}: needs "
                                            r"69\.2 MB, 67\.1 MB free on .*downloads\."):
        _run(job, tmp_path, free_space=lambda _folder: free)
    assert hub.file_requests(NAME) == [] and _library(tmp_path) == []


EFBIG_CHILD = """
import json, resource, signal, sys, threading
from pathlib import Path
from app.core.downloads import DownloadJob, transfer
job_json, url, part, library, limit = sys.argv[1:]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
try:
    transfer(DownloadJob.from_dict(json.loads(job_json)), url=url, headers={},
             part_path=Path(part), library_dir=Path(library), cancel=threading.Event(),
             progress=lambda n: None)
except Exception as exc:
    print(json.dumps({"type": type(exc).__name__, "message": exc.message, "hint": exc.hint}))
"""


def test_a_disk_that_fills_up_while_writing_is_a_clear_error(hub: LocalHub,
                                                             tmp_path: Path) -> None:
    job = _job(hub)
    part = _part(job, tmp_path)
    limit = 512 * 1024
    url = HubClient().file_url(job.repo_id, job.revision, job.path)
    child = subprocess.run(
        [sys.executable, "-c", EFBIG_CHILD, json.dumps(job.to_dict()), url, str(part),
         str(tmp_path / "library"), str(limit)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    outcome = json.loads(child.stdout)
    assert outcome["type"] == "DiskFullError", child.stderr
    assert outcome["message"].startswith(f"Not enough disk space for {NAME}: needs ")
    assert outcome["hint"] == "Free some disk space, then retry the download."
    assert part.stat().st_size == limit and _library(tmp_path) == []
    assert _run(job, tmp_path).read_bytes() == PAYLOAD  # space again: it resumes
    assert hub.file_requests(NAME)[-1].range_start == limit


def test_unsafe_names_never_reach_the_disk(hub: LocalHub, tmp_path: Path) -> None:
    with pytest.raises(HubError, match="refused"):
        DownloadJob.for_part("org/M-GGUF", "a" * 40, HubPart("../evil.gguf", 1, "0" * 64))
    job = _job(hub)
    for bad in ("../evil.gguf", "/tmp/abs.gguf", "sub/x.gguf"):
        job.target_name = bad
        with pytest.raises((HubError, DownloadError)):
            _run(job, tmp_path)
    assert hub.file_requests(NAME) == [] and not (tmp_path / "library").exists()


def test_a_file_without_a_sha256_is_not_downloaded(hub: LocalHub, tmp_path: Path) -> None:
    job = _job(hub)
    job.sha256 = ""
    with pytest.raises(DownloadError, match="gives no sha256"):
        _run(job, tmp_path)
    assert hub.file_requests(NAME) == []


def test_the_same_file_in_the_library_finishes_at_once(hub: LocalHub, tmp_path: Path) -> None:
    job = _job(hub)
    _target(tmp_path).parent.mkdir(parents=True)
    _target(tmp_path).write_bytes(PAYLOAD)
    assert _run(job, tmp_path) == _target(tmp_path)
    assert hub.file_requests(NAME) == []


def test_a_different_file_of_that_name_is_never_replaced(hub: LocalHub,
                                                         tmp_path: Path) -> None:
    job = _job(hub)
    _target(tmp_path).parent.mkdir(parents=True)
    _target(tmp_path).write_bytes(b"the user's own file")
    with pytest.raises(DownloadError, match=f"A different file named {NAME}"):
        _run(job, tmp_path)
    assert _target(tmp_path).read_bytes() == b"the user's own file"


def test_a_file_that_appears_during_the_download_is_not_replaced(
        hub: LocalHub, tmp_path: Path) -> None:
    job = _job(hub)
    _target(tmp_path).parent.mkdir(parents=True)

    def sneak_in(received: int) -> None:
        if received == job.size:
            return
        target = _target(tmp_path)
        if not target.exists():
            target.write_bytes(b"x" * 10)

    with pytest.raises(DownloadError, match="A different file named"):
        _run(job, tmp_path, progress=sneak_in)
    assert _target(tmp_path).read_bytes() == b"x" * 10
    assert _part(job, tmp_path).stat().st_size == job.size  # verified bytes are kept


def test_jobs_round_trip_through_json() -> None:
    job = DownloadJob.for_part("org/m", "a" * 40, HubPart("q/m-Q4_0.gguf", 5, "b" * 64))
    assert job.target_name == "m-Q4_0.gguf" and len(job.id) == 32 and job.state == "queued"
    assert DownloadJob.from_dict(json.loads(json.dumps(job.to_dict()))) == job
    for broken in ({**job.to_dict(), "size": "5"}, {**job.to_dict(), "state": "odd"},
                   {k: v for k, v in job.to_dict().items() if k != "sha256"}, ["x"]):
        with pytest.raises((ValueError, TypeError)):
            DownloadJob.from_dict(broken)  # type: ignore[arg-type]


def test_a_library_on_another_file_system_gets_a_verified_copy(hub: LocalHub,
                                                               tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second file system (/dev/shm) for the library")
    job = _job(hub)
    library = Path(tempfile.mkdtemp(dir=shm))
    try:
        client = HubClient()
        path = transfer(job, url=client.file_url(job.repo_id, job.revision, job.path),
                        headers={}, part_path=_part(job, tmp_path), library_dir=library,
                        cancel=threading.Event(), progress=lambda _n: None)
        assert path == library / "org" / "M-GGUF" / NAME and path.read_bytes() == PAYLOAD
        assert [p.name for p in library.rglob("*") if p.is_file()] == [NAME]  # no staging
        assert not _part(job, tmp_path).exists()
    finally:
        shutil.rmtree(library)


def test_a_file_system_error_is_a_clear_download_error(hub: LocalHub, tmp_path: Path) -> None:
    job = _job(hub)
    (tmp_path / "downloads").write_text("a file where the downloads folder should be")
    with pytest.raises(DownloadError, match="Could not read or write") as caught:
        _run(job, tmp_path)
    assert "retry" in caught.value.hint


def test_checking_the_bytes_kept_before_resuming_reports_progress(
        hub: LocalHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.core import downloads

    monkeypatch.setattr(downloads, "HASH_PROGRESS_INTERVAL_S", 0.0)
    monkeypatch.setattr(downloads, "CHUNK", 256 * 1024)
    job = _job(hub)
    part = _part(job, tmp_path)
    part.parent.mkdir(parents=True)
    part.write_bytes(PAYLOAD[:1 << 20])  # 1 MiB kept from an earlier try
    seen: list[int] = []
    assert _run(job, tmp_path, progress=seen.append).read_bytes() == PAYLOAD
    assert seen[:4] == [256 * 1024, 512 * 1024, 768 * 1024, 1 << 20]  # re-reading the part
    assert seen[-1] == len(PAYLOAD)


def test_uploads_with_the_same_file_name_get_folders_of_their_own(hub: LocalHub,
                                                                  tmp_path: Path) -> None:
    other = random.Random(9).randbytes(4096)
    hub.add_repo("alice/M-GGUF", {NAME: PAYLOAD})
    hub.add_repo("bob/M-GGUF", {NAME: other})
    paths = []
    for repo in ("alice/M-GGUF", "bob/M-GGUF"):
        [job] = jobs_for(HubClient().listing(repo).files[0])
        paths.append(_run(job, tmp_path))
    library = tmp_path / "library"
    assert paths == [library / "alice" / "M-GGUF" / NAME, library / "bob" / "M-GGUF" / NAME]
    assert [p.read_bytes() for p in paths] == [PAYLOAD, other]


def test_a_job_from_an_older_queue_lands_in_the_library_itself(hub: LocalHub,
                                                              tmp_path: Path) -> None:
    data = _job(hub).to_dict()
    del data["target_dir"]
    job = DownloadJob.from_dict(data)
    assert _run(job, tmp_path) == tmp_path / "library" / NAME


def test_a_library_folder_that_leaves_the_library_is_refused(hub: LocalHub,
                                                            tmp_path: Path) -> None:
    job = _job(hub)
    job.target_dir = "../outside"
    with pytest.raises(DownloadError, match="not a safe library folder"):
        _run(job, tmp_path)
    assert not (tmp_path / "outside").exists() and hub.file_requests(NAME) == []
