"""The whole app is killed (SIGKILL) mid-download; the next start resumes where it stopped."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from app.core.paths import Paths
from app.core.starter_model import sha256_of
from tests.hub_server import LocalHub

ROOT = Path(__file__).resolve().parents[1]
REPO, NAME = "org/Smol-GGUF", "smol-Q4_1.gguf"


def _start(paths: Paths, *args: str) -> tuple[subprocess.Popen[str], queue.Queue[str | None]]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.download_driver", "--data-dir", str(paths.data_dir),
         *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, start_new_session=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return process, lines


def _lines(lines: queue.Queue[str | None], timeout: float) -> Iterator[str]:
    """The app's lines until it ends; the whole wait is bounded by the queue timeout."""
    while (line := lines.get(timeout=timeout)) is not None:
        yield line


def test_a_download_killed_with_the_app_resumes_at_the_next_start(
        paths: Paths, hub: LocalHub, starter_gguf: Path) -> None:
    hub.add_repo(REPO, {NAME: starter_gguf})
    hub.rate = 6_000_000  # ~16 s for the whole file: time to kill it on the way
    first, lines = _start(paths, "--repo", REPO, "--file", NAME)
    try:
        received = 0
        for line in _lines(lines, timeout=60):
            kind, _, value = line.partition(" ")
            assert kind == "RECEIVED", line
            received = int(value)
            if received >= 3_000_000:
                break
        os.killpg(first.pid, signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
    state = json.loads((paths.data_dir / "downloads" / "queue.json").read_text())
    [job] = state["jobs"]
    assert job["state"] == "downloading"  # as the kill left it
    part = paths.data_dir / "downloads" / f"{job['id']}.part"
    kept = part.stat().st_size
    assert kept >= received  # what the window was told had arrived was on disk
    assert not list(paths.models_dir.glob("*.gguf"))  # nothing half-written in the library

    hub.rate = None
    second, lines = _start(paths)  # no new download: the queue alone resumes it
    try:
        said = list(_lines(lines, timeout=60))
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
        second.wait(timeout=10)
    target = paths.models_dir / REPO / NAME
    assert said[-1] == f"READY {target}", said
    assert sha256_of(target) == sha256_of(starter_gguf)
    starts = [seen.range_start for seen in hub.file_requests(NAME)]
    assert starts[0] is None and starts[-1] == kept > 0
    assert not part.exists()
