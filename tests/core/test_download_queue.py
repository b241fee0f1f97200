"""The persisted download queue: states, restarts (also after a kill), a damaged file."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.core.download_queue import DownloadQueue
from app.core.downloads import DownloadJob, jobs_for, transfer
from app.core.errors import DownloadError
from app.core.hub import HubClient
from app.core.hub_files import HubPart
from tests.hub_server import LocalHub

ROOT = Path(__file__).resolve().parents[2]


def _job(name: str = "m-Q4_0.gguf", repo: str = "org/m", size: int = 10) -> DownloadJob:
    return DownloadJob.for_part(repo, "a" * 40, HubPart(name, size, "b" * 64))


@pytest.fixture
def queue(tmp_path: Path) -> DownloadQueue:
    return DownloadQueue(tmp_path / "downloads", tmp_path / "library")


def _reopen(queue: DownloadQueue) -> DownloadQueue:
    """The queue as the next start of Hearth opens it (this one has ended)."""
    queue.close()
    return DownloadQueue(queue.state_dir, queue.library_dir)


def test_jobs_and_their_states_survive_a_restart(queue: DownloadQueue) -> None:
    first, second, third = queue.add(_job("a.gguf")), queue.add(_job("b.gguf")), \
        queue.add(_job("c.gguf"))
    queue.mark(first.id, "failed", error="It broke.")
    queue.pause(second.id)
    assert queue.next_runnable() == third
    again = _reopen(queue)
    assert [(j.target_name, j.state, j.error) for j in again.jobs] == [
        ("a.gguf", "failed", "It broke."), ("b.gguf", "paused", ""), ("c.gguf", "queued", "")]
    again.resume(first.id)
    assert again.get(first.id).state == "queued" and again.get(first.id).error == ""
    assert again.next_runnable().id == first.id


def test_a_duplicate_or_a_name_clash_is_refused(queue: DownloadQueue) -> None:
    job = queue.add(_job())
    with pytest.raises(DownloadError, match="already in the download queue"):
        queue.add(_job())
    clash = _job()
    clash.path = "sub/m-Q4_0.gguf"  # another file of the repo, with the same name
    with pytest.raises(DownloadError, match="Another download will be saved as org/m/m-Q4_0"):
        queue.add(clash)
    queue.add(_job(repo="other/m"))  # another repo's file of that name has its own folder
    queue.cancel(job.id)
    queue.add(_job())  # a cancelled job no longer blocks it
    assert len(queue.jobs) == 3


def test_cancel_deletes_the_part_and_remove_forgets_the_job(queue: DownloadQueue) -> None:
    job = queue.add(_job())
    queue.part_path(job).write_bytes(b"12345")
    queue.cancel(job.id)
    assert not queue.part_path(job).exists()
    assert (queue.get(job.id).state, queue.get(job.id).received) == ("cancelled", 0)
    queue.remove(job.id)
    assert queue.jobs == [] and _reopen(queue).jobs == []


def test_only_finished_jobs_can_be_removed(queue: DownloadQueue) -> None:
    job = queue.add(_job())
    with pytest.raises(ValueError, match="cancel it first"):
        queue.remove(job.id)
    queue.mark(job.id, "failed", error="It broke.")
    queue.part_path(job).write_bytes(b"what arrived")
    with pytest.raises(ValueError, match="cancel it first"):  # its part is worth keeping
        queue.remove(job.id)
    assert queue.part_path(job).exists()
    queue.mark(job.id, "done", received=10)
    with pytest.raises(ValueError, match="cannot be cancelled"):
        queue.cancel(job.id)
    queue.remove(job.id)
    with pytest.raises(KeyError):
        queue.pause(job.id)


def test_a_restart_requeues_an_interrupted_download_at_its_part_size(
        queue: DownloadQueue) -> None:
    job = queue.add(_job())
    queue.mark(job.id, "downloading")
    queue.part_path(job).write_bytes(b"1234")
    orphan = queue.state_dir / "0123.part"
    orphan.write_bytes(b"left by a lost queue")
    again = _reopen(queue)
    assert (again.get(job.id).state, again.get(job.id).received) == ("queued", 4)
    assert not orphan.exists() and queue.part_path(job).exists()


def test_the_queue_file_is_replaced_atomically(queue: DownloadQueue) -> None:
    queue.add(_job())
    data = json.loads(queue.queue_path.read_text())
    assert data["version"] == 1 and data["jobs"][0]["target_name"] == "m-Q4_0.gguf"
    assert sorted(p.name for p in queue.state_dir.iterdir()) == ["queue.json", "queue.lock"]


@pytest.mark.allow_warnings
@pytest.mark.parametrize("content", ["{not json", '{"version": 99, "jobs": []}', "[]"])
def test_a_damaged_queue_file_is_set_aside_and_partial_files_are_kept(
        tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "downloads"
    state.mkdir()
    (state / "queue.json").write_text(content)
    part = state / "0123.part"
    part.write_bytes(b"38 GB of a 40 GB download")
    queue = DownloadQueue(state, tmp_path / "library")
    assert queue.jobs == []
    assert (state / "queue.json.bad").read_text() == content
    assert any("set aside" in r.getMessage() for r in caplog.records
               if r.levelname == "WARNING")
    assert part.exists()  # not an orphan to delete: its job may be in the set-aside file
    queue.add(_job())
    assert len(_reopen(queue).jobs) == 1


@pytest.mark.allow_warnings
def test_a_damaged_entry_is_skipped_and_the_rest_kept(queue: DownloadQueue,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    job = queue.add(_job())
    data = json.loads(queue.queue_path.read_text())
    data["jobs"].append({"id": 1})
    queue.queue_path.write_text(json.dumps(data))
    assert [j.id for j in _reopen(queue).jobs] == [job.id]
    assert any("damaged entry" in r.getMessage() for r in caplog.records)


@pytest.mark.allow_warnings
def test_a_queue_that_cannot_be_saved_goes_on_in_memory(queue: DownloadQueue,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    queue.queue_path.unlink(missing_ok=True)
    queue.queue_path.mkdir()  # putting the new file in place fails
    job = queue.add(_job())
    queue.mark(job.id, "downloading")
    assert queue.get(job.id).state == "downloading"
    assert any("Could not save the download queue" in r.getMessage() for r in caplog.records)


KILLED_CHILD = """
import sys, threading
from pathlib import Path
from app.core.download_queue import DownloadQueue
from app.core.downloads import transfer
state, library, url = sys.argv[1:]
queue = DownloadQueue(Path(state), Path(library))
job = queue.next_runnable()
queue.mark(job.id, "downloading")
transfer(job, url=url, headers={}, part_path=queue.part_path(job), library_dir=Path(library),
         cancel=threading.Event(), progress=lambda received: print(received, flush=True))
"""


def test_a_download_killed_with_the_app_resumes_after_a_restart(hub: LocalHub,
                                                                tmp_path: Path) -> None:
    payload = random.Random(7).randbytes(4 << 20)
    hub.add_repo("org/K-GGUF", {"k-Q8_0.gguf": payload})
    [job] = jobs_for(HubClient().listing("org/K-GGUF").files[0])
    queue = DownloadQueue(tmp_path / "downloads", tmp_path / "library")
    queue.add(job)
    queue.close()  # the child is the Hearth that runs the downloads
    url = HubClient().file_url(job.repo_id, job.revision, job.path)
    hub.rate = 2e6  # slow enough to be killed mid-way
    child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, str(queue.state_dir),
                              str(queue.library_dir), url],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)
    reported = 0
    try:
        assert child.stdout is not None
        for line in child.stdout:  # ends if the child ends; the throttle bounds it
            reported = int(line)
            if reported >= 256 * 1024:
                break
    finally:
        child.kill()
        child.wait(timeout=10)
    assert 256 * 1024 <= reported < job.size
    assert json.loads(queue.queue_path.read_text())["jobs"][0]["state"] == "downloading"

    hub.rate = None
    restarted = _reopen(queue)
    resumed = restarted.get(job.id)
    start = resumed.received
    assert resumed.state == "queued" and reported <= start < job.size
    assert restarted.next_runnable() == resumed
    path = transfer(resumed, url=url, headers={}, part_path=restarted.part_path(resumed),
                    library_dir=restarted.library_dir, cancel=threading.Event(),
                    progress=lambda _n: None)
    restarted.mark(job.id, "done", received=job.size)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == job.sha256
    first, second = hub.file_requests("k-Q8_0.gguf")
    assert first.range_start is None
    assert (second.range_start, second.sent) == (start, job.size - start)
    assert _reopen(restarted).get(job.id).state == "done"
    assert not restarted.part_path(job).exists()


def test_the_parts_of_a_model_are_queued_all_or_none(queue: DownloadQueue) -> None:
    first = queue.add(_job())
    parts = [_job("m-00001-of-00002.gguf"), _job()]  # the second is queued already
    with pytest.raises(DownloadError, match="already in the download queue"):
        queue.add_all(parts)
    assert [j.id for j in queue.jobs] == [first.id]
    parts = [_job("m-00001-of-00002.gguf"), _job("m-00002-of-00002.gguf")]
    assert queue.add_all(parts) == parts and len(_reopen(queue).jobs) == 3


def test_one_hearth_at_a_time_owns_the_queue(queue: DownloadQueue) -> None:
    job = queue.add(_job())
    queue.part_path(job).write_bytes(b"12345")
    second = DownloadQueue(queue.state_dir, queue.library_dir)  # another Hearth, meanwhile
    assert queue.owner and not second.owner
    assert [j.id for j in second.jobs] == [job.id]  # it sees the jobs...
    for change in (lambda: second.cancel(job.id), lambda: second.add(_job("x.gguf")),
                   lambda: second.mark(job.id, "failed")):
        with pytest.raises(DownloadError, match="Another Hearth window"):
            change()  # ...but cannot change them
    assert queue.part_path(job).exists() and queue.get(job.id).state == "queued"
    assert not second.claim()
    queue.add(_job("later.gguf"))
    queue.close()  # the first Hearth ends
    assert second.claim() and [j.target_name for j in second.jobs] == ["m-Q4_0.gguf",
                                                                        "later.gguf"]
    second.cancel(job.id)
    assert not queue.part_path(job).exists()
