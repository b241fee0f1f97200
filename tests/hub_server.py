"""A local stand-in for the Hugging Face Hub: real HTTP on 127.0.0.1, for the real client.

It serves what ``huggingface_hub`` (and Hearth's own ranged download) call: the model
search, a repo's info and file tree, and ``resolve`` URLs with ``Range`` support, plus
faults injected per file (``500``, ``404``, ``reset``, ``stall``, ``wrong_bytes``,
``no_range``), redirects, gated repos (``token``), an optional throttle and a record of
every request, so a test can prove what was sent.

Run ``python -m tests.hub_server [--rate B/s] FILE...`` to serve files as the repo
``local/files`` (the download benchmark does).
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

from tests.hub_routes import CHUNK, HubHandler, Seen

FAULT_KINDS = ("500", "404", "reset", "stall", "wrong_bytes", "no_range")
LFS_SUFFIXES = (".gguf", ".bin", ".safetensors")
_HASHES: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, per process


@dataclass
class HubRepoFile:
    """One file of a repo: bytes in memory or a file on disk."""

    name: str
    size: int
    sha256: str
    git_oid: str
    data: bytes | None = None
    path: Path | None = None

    @property
    def lfs(self) -> bool:
        """Whether the hub keeps it in LFS (the listing then gives its sha256)."""
        return self.name.lower().endswith(LFS_SUFFIXES)

    def chunks(self, start: int, end: int) -> Iterator[bytes]:
        """The bytes ``start``..``end - 1`` in pieces of at most CHUNK bytes."""
        if self.data is not None:
            for offset in range(start, end, CHUNK):
                yield self.data[offset:min(end, offset + CHUNK)]
            return
        assert self.path is not None
        with self.path.open("rb") as handle:
            handle.seek(start)
            left = end - start
            while left > 0 and (piece := handle.read(min(CHUNK, left))):
                left -= len(piece)
                yield piece


@dataclass
class HubRepo:
    """A registered repo and its files."""

    id: str
    sha: str
    files: dict[str, HubRepoFile]
    gated: bool = False
    downloads: int = 0
    likes: int = 0
    tags: tuple[str, ...] = ("gguf",)
    last_modified: str = "2024-11-01T12:00:00.000Z"


@dataclass
class Fault:
    """A fault waiting for the next ``times`` requests of one file (or API path)."""

    kind: str
    times: int
    after: int = 0  # bytes of the body sent before a reset or stall


def _file(name: str, content: bytes | Path) -> HubRepoFile:
    if isinstance(content, Path):
        stat = content.stat()
        key = (str(content.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in _HASHES:
            digest = hashlib.sha256()
            with content.open("rb") as handle:
                while piece := handle.read(1 << 20):
                    digest.update(piece)
            _HASHES[key] = digest.hexdigest()
        sha, size = _HASHES[key], stat.st_size
        oid = hashlib.sha1(sha.encode()).hexdigest()  # any stable 40-hex id will do
        return HubRepoFile(name, size, sha, oid, path=content)
    oid = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
    return HubRepoFile(name, len(content), hashlib.sha256(content).hexdigest(), oid,
                       data=bytes(content))


class LocalHub:
    """The test hub: repos registered in code, faults, a throttle and a request log.

    Attributes:
        url: the endpoint (``http://127.0.0.1:<port>``).
        token: the access token gated repos accept.
        rate: bytes per second for file bodies (``None``: as fast as possible).
        requests: every request answered, in order.
    """

    def __init__(self, port: int = 0) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), HubHandler)
        self.server.daemon_threads = True
        self.server.hub = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.token = "hf_test_token"
        self.rate: float | None = None
        self.requests: list[Seen] = []
        self.repos: dict[str, HubRepo] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.redirects: dict[str, str] = {}  # repo file name -> URL answered with a 302
        self.stopping = threading.Event()   # set on shutdown: every wait ends
        self.released = threading.Event()   # set by release(): stalled bodies end
        self.changed = threading.Condition()
        self._thread: threading.Thread | None = None

    # -- test side --------------------------------------------------------------------
    def start(self) -> LocalHub:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self.server.serve_forever, name="local-hub",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving and end every stalled or throttled response."""
        self.stopping.set()
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        """Forget repos, faults, the throttle and the request log (between tests)."""
        with self.changed:
            self.released.set()  # let a stall left by the previous test end
            self.repos.clear()
            self.faults.clear()
            self.redirects.clear()
            self.requests.clear()
            self.rate = None
            self.released = threading.Event()

    def add_repo(self, repo_id: str, files: dict[str, bytes | Path], *, gated: bool = False,
                 downloads: int = 0, likes: int = 0,
                 tags: tuple[str, ...] = ("gguf",)) -> HubRepo:
        """Register a repo; its commit sha is derived from its id and file hashes."""
        entries = {name: _file(name, content) for name, content in files.items()}
        seed = repo_id + "".join(f"{n}:{f.sha256}" for n, f in sorted(entries.items()))
        repo = HubRepo(repo_id, hashlib.sha1(seed.encode()).hexdigest(), entries, gated,
                       downloads, likes, tuple(tags))
        self.repos[repo_id] = repo
        return repo

    def fail(self, name: str, kind: str, times: int = 1, after: int = 0) -> None:
        """Make the next ``times`` requests of ``name`` fail (``after``: body bytes first).

        ``name`` is a repo file name (resolve requests) or a URL path such as ``/api/models``.
        Kinds: ``500``, ``404`` (EntryNotFound), ``reset`` (TCP reset after ``after`` bytes),
        ``stall`` (``after`` bytes, then nothing until ``release()``), ``wrong_bytes`` (one
        byte flipped, same size and advertised sha256), ``no_range`` (Range ignored: 200).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}")
        with self.changed:
            self.faults.setdefault(name, []).append(Fault(kind, times, after))

    def release(self) -> None:
        """End the stalled responses (they close their connection)."""
        self.released.set()

    def file_requests(self, name: str, method: str = "GET") -> list[Seen]:
        """The requests of one repo file, in order."""
        return [s for s in self.requests if s.file == name and s.method == method]

    def sent(self, name: str) -> int:
        """Body bytes of ``name`` sent so far, over all requests."""
        with self.changed:
            return sum(s.sent for s in self.requests if s.file == name)

    def wait_sent(self, name: str, at_least: int, timeout: float = 10.0) -> bool:
        """Wait until ``at_least`` body bytes of ``name`` were sent; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while sum(s.sent for s in self.requests if s.file == name) < at_least:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
        return True

    # -- server side ------------------------------------------------------------------
    def take_fault(self, *names: str) -> Fault | None:
        """The next fault for the first name that has one (its count goes down)."""
        with self.changed:
            for name in names:
                pending = self.faults.get(name)
                if pending:
                    fault = pending[0]
                    fault.times -= 1
                    if fault.times <= 0:
                        pending.pop(0)
                    return fault
        return None

    def record(self, seen: Seen) -> None:
        """Add a request to the log."""
        with self.changed:
            self.requests.append(seen)

    def count_sent(self, seen: Seen, count: int) -> None:
        """Count body bytes sent for a request and wake ``wait_sent``."""
        with self.changed:
            seen.sent += count
            self.changed.notify_all()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def use_test_hub_environment() -> int:
    """Point ``huggingface_hub`` at a free local port and a throw-away ``HF_HOME``.

    Must run before ``huggingface_hub`` is imported (it reads ``HF_ENDPOINT`` once).
    Returns the port; the session's ``LocalHub`` then listens on it.
    """
    if "huggingface_hub" in sys.modules:
        raise RuntimeError("huggingface_hub was imported before the test hub was configured")
    port = free_port()
    os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{port}"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        os.environ.pop(name, None)
    home = tempfile.mkdtemp(prefix="hearth-test-hf-")
    os.environ["HF_HOME"] = home
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return port


def main(argv: list[str] | None = None) -> int:
    """Serve files as the repo ``local/files`` until stdin closes; print the URL first."""
    parser = argparse.ArgumentParser(prog="python -m tests.hub_server")
    parser.add_argument("--rate", type=float, help="bytes per second for file bodies")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    hub = LocalHub().start()
    hub.rate = args.rate
    hub.add_repo("local/files", {path.name: path for path in args.files})
    print(json.dumps({"url": hub.url, "revision": hub.repos["local/files"].sha}), flush=True)
    sys.stdin.read()
    hub.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
