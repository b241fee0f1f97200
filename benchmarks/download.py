"""Download benchmark: Hearth's transfer against curl, same file, same local hub, same run.

The local test hub (``tests/hub_server.py``) serves the model file (default: the 98 MB
starter model) from a child process, so neither client shares a process or the GIL with
the server. Each round downloads the file once with ``curl -s -f -o`` and once with
``downloads.transfer`` (which also hashes every byte, fsyncs the file and links it into a
library folder, as the app does), alternating which goes first; a warm-up round is not
counted. Two settings:

* **loopback, no limit**: as fast as the machine goes, which on a small machine measures
  CPU time (the server, the client and the hashing share the cores);
* **1 Gbit/s**: the hub sends at most 125 MB/s, a fast home connection.

Reported: the median MB/s of each client, their ratio (goal: Hearth ≥ 0.9× curl) and the
CPU time each client used per GB.

Run: ``python -m benchmarks download [--model FILE] [--only loopback|line]``.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.downloads import DownloadJob, transfer
from app.core.starter_model import sha256_of
from benchmarks.driver import format_table, median, scratch_dir, starter_model

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = {"loopback": 5, "line": 3}
LINE_RATE = 125e6  # bytes/s: 1 Gbit/s
GOAL = 0.9


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _curl(url: str, folder: Path, _job: DownloadJob) -> tuple[float, float]:
    began, cpu = time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)
    subprocess.run(["curl", "-s", "-f", "-o", str(folder / "curl.gguf"), url], check=True,
                   timeout=600)
    return time.perf_counter() - began, _cpu(resource.RUSAGE_CHILDREN) - cpu


def _hearth(url: str, folder: Path, job: DownloadJob) -> tuple[float, float]:
    began, cpu = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
    transfer(job, url=url, headers={}, part_path=folder / f"{job.id}.part",
             library_dir=folder / "library", cancel=threading.Event(),
             progress=lambda _n: None)
    return time.perf_counter() - began, _cpu(resource.RUSAGE_SELF) - cpu


def _measure(path: Path, job: DownloadJob, rate: float | None, rounds: int,
             progress: Callable[[str], None]) -> dict[str, Any]:
    """Alternate curl and Hearth ``rounds`` times against a hub sending at ``rate``."""
    command = [sys.executable, "-m", "tests.hub_server", str(path)]
    if rate:
        command[3:3] = ["--rate", str(rate)]
    server = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    runs: dict[str, list[tuple[float, float]]] = {"curl": [], "hearth": []}
    clients = {"curl": _curl, "hearth": _hearth}
    try:
        assert server.stdout is not None
        hub = json.loads(server.stdout.readline())
        url = f"{hub['url']}/local/files/resolve/{hub['revision']}/{path.name}"
        for number in range(rounds + 1):
            folder = scratch_dir()
            order = ("curl", "hearth") if number % 2 else ("hearth", "curl")
            took = {name: clients[name](url, folder, job) for name in order}
            shutil.rmtree(folder)
            if number == 0:
                continue  # warm-up: page cache, imports
            for name, run in took.items():
                runs[name].append(run)
            progress(f"  {'1 Gbit/s' if rate else 'loopback'} round {number}: " + ", ".join(
                f"{name} {job.size / took[name][0] / 1e6:.0f} MB/s" for name in clients))
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)
    result: dict[str, Any] = {"rate": rate, "rounds": rounds}
    for name, values in runs.items():
        result[f"{name}_mb_s"] = job.size / median([v[0] for v in values]) / 1e6
        result[f"{name}_cpu_s_per_gb"] = median([v[1] for v in values]) / job.size * 1e9
        result[f"{name}_s"] = [v[0] for v in values]
    result["ratio"] = result["hearth_mb_s"] / result["curl_mb_s"]
    return result


def run(model: str | None = None, progress: Callable[[str], None] = print,
        only: list[str] | None = None, **_: Any) -> dict[str, Any]:
    """Time downloads with curl and with Hearth's transfer, unthrottled and at 1 Gbit/s."""
    if shutil.which("curl") is None:
        raise SystemExit("curl is not installed; the download benchmark compares against it")
    path = Path(model or starter_model(progress)).resolve()
    job = DownloadJob(id=uuid.uuid4().hex, repo_id="local/files", revision="main",
                      path=path.name, size=path.stat().st_size, sha256=sha256_of(path),
                      target_name=path.name)
    result: dict[str, Any] = {"file": path.name, "file_mb": job.size / 1e6,
                              "cpus": os.cpu_count()}
    for part, rate in (("loopback", None), ("line", LINE_RATE)):
        if not only or part in only:
            result[part] = _measure(path, job, rate, ROUNDS[part], progress)
    return result


def table(r: dict[str, Any]) -> str:
    """The results as a text table."""
    rows: list[tuple[str, str, str]] = []
    for part, label in (("loopback", "loopback, no limit"), ("line", "hub at 1 Gbit/s")):
        m = r.get(part)
        if m is None:
            continue
        rows += [
            (f"{label}: curl -s -o", f"{m['curl_mb_s']:.0f} MB/s", "baseline"),
            (f"{label}: Hearth (sha256 + fsync)", f"{m['hearth_mb_s']:.0f} MB/s", ""),
            (f"{label}: ratio Hearth / curl", f"{m['ratio']:.2f}x", f">= {GOAL}x"),
            (f"{label}: CPU s per GB curl / Hearth",
             f"{m['curl_cpu_s_per_gb']:.2f} / {m['hearth_cpu_s_per_gb']:.2f}", ""),
        ]
    title = (f"download of {r['file']} ({r['file_mb']:.1f} MB) from the local hub "
             f"(a child process), {r['cpus']} CPUs, median of rounds")
    return format_table(title, rows)
