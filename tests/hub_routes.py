"""The local test hub's HTTP routes: the JSON API and ``resolve`` URLs (with Range).

The answers copy what huggingface.co sends for the calls Hearth makes (checked against
``huggingface_hub`` 2.4): JSON shapes, ``X-Error-Code`` on 404/401, ``X-Repo-Commit`` and
``ETag`` on file responses, 206 with ``Content-Range`` for ``Range: bytes=N-``.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from tests.hub_server import Fault, HubRepo, HubRepoFile, LocalHub

CHUNK = 64 * 1024
STALL_LIMIT_S = 20.0  # a stalled response never outlives a test by more than this


@dataclass
class Seen:
    """One request the hub answered."""

    method: str
    path: str                 # URL path
    file: str                 # the repo file name for resolve URLs, else ""
    range_start: int | None   # from a ``Range: bytes=N-`` header
    authorization: str
    status: int = 0
    sent: int = 0             # body bytes sent
    params: dict[str, list[str]] = field(default_factory=dict)  # the query string


def reset_connection(sock: socket.socket) -> None:
    """Close a socket with a TCP reset (SO_LINGER 0) instead of a clean FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class HubHandler(BaseHTTPRequestHandler):
    """Answers one connection's requests (HTTP/1.1, keep-alive)."""

    protocol_version = "HTTP/1.1"
    server_version = "LocalHub/1"
    timeout = 30  # an idle kept-alive connection ends

    @property
    def hub(self) -> LocalHub:
        """The LocalHub this server belongs to (its repos, faults and request log)."""
        return self.server.hub  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr request log (the hub records requests itself)."""

    def do_GET(self) -> None:
        """Answer a GET (API or file)."""
        self._route("GET")

    def do_HEAD(self) -> None:
        """Answer a HEAD (headers only)."""
        self._route("HEAD")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        segments = [unquote(s) for s in url.path.split("/") if s]
        seen = Seen(method, url.path, "", self._range()[0],
                    self.headers.get("Authorization", ""),
                    params=parse_qs(url.query, keep_blank_values=True))
        if len(segments) >= 5 and segments[2] == "resolve":
            seen.file = "/".join(segments[4:])
        self.hub.record(seen)
        try:
            if segments[:2] == ["api", "models"]:
                self._api(seen, segments[2:], seen.params)
            elif seen.file:
                self._resolve(seen, f"{segments[0]}/{segments[1]}", segments[3])
            else:
                self._error(seen, 404, "", "Not found")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- the JSON API -----------------------------------------------------------------
    def _api(self, seen: Seen, rest: list[str], params: dict[str, list[str]]) -> None:
        if self._api_fault(seen):
            return
        if not rest:
            self._json(seen, self._search(params))
            return
        repo = self.hub.repos.get("/".join(rest[:2]))
        if repo is None or len(rest) < 2:
            self._error(seen, 404, "RepoNotFound", "Repository not found")
            return
        tail = rest[2:]
        revision = tail[1] if len(tail) >= 2 else "main"
        if revision not in ("main", repo.sha):
            self._error(seen, 404, "RevisionNotFound", "Invalid rev id")
        elif not tail or tail[0] == "revision":
            self._json(seen, _info(repo))
        elif tail[0] == "tree":
            self._json(seen, [_tree_entry(f) for f in repo.files.values()])
        else:
            self._error(seen, 404, "", "Not found")

    def _api_fault(self, seen: Seen) -> bool:
        fault = self.hub.take_fault(seen.path)
        if fault is None:
            return False
        if fault.kind == "404":
            self._error(seen, 404, "RepoNotFound", "Repository not found")
        elif fault.kind in ("reset", "stall"):
            self._end_badly(fault)
        else:
            self._error(seen, 500, "", "Internal Error")
        return True

    def _search(self, params: dict[str, list[str]]) -> list[dict[str, Any]]:
        wanted = params.get("filter", [])
        text = params.get("search", [""])[0].lower()
        found = [r for r in self.hub.repos.values()
                 if all(tag in r.tags for tag in wanted) and text in r.id.lower()]
        sort = params.get("sort", [""])[0]
        if sort in ("downloads", "likes"):
            found.sort(key=lambda r: getattr(r, sort), reverse=True)
        limit = int(params.get("limit", ["1000"])[0])
        return [_summary(r) for r in found[:limit]]

    # -- files ------------------------------------------------------------------------
    def _resolve(self, seen: Seen, repo_id: str, revision: str) -> None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(seen, 404, "RepoNotFound", "Repository not found")
            return
        if revision not in ("main", repo.sha):
            self._error(seen, 404, "RevisionNotFound", "Invalid rev id")
            return
        entry = repo.files.get(seen.file)
        if entry is None:
            self._error(seen, 404, "EntryNotFound", "Entry not found")
            return
        if repo.gated and seen.authorization != f"Bearer {self.hub.token}":
            status = 403 if seen.authorization else 401
            self._error(seen, status, "GatedRepo", "Access to this model is restricted")
            return
        if seen.file in self.hub.redirects:
            self._send_head(seen, 302, {"Location": self.hub.redirects[seen.file],
                                        "Content-Length": "0"})
            return
        fault = self.hub.take_fault(seen.file, seen.path) if seen.method == "GET" else None
        if fault is not None and fault.kind in ("500", "404"):
            code = "EntryNotFound" if fault.kind == "404" else ""
            self._error(seen, int(fault.kind), code, "Injected fault")
            return
        ranged = self.headers.get("Range") is not None and not (fault and fault.kind == "no_range")
        start, end = self._range() if ranged else (0, None)
        start = start or 0
        end = entry.size if end is None else min(end + 1, entry.size)
        if start >= entry.size > 0 or start > end:
            self._send_head(seen, 416, {"Content-Range": f"bytes */{entry.size}",
                                        "Content-Length": "0"})
            return
        headers = {"Content-Length": str(end - start), "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream", "X-Repo-Commit": repo.sha,
                   "ETag": f'"{entry.sha256 if entry.lfs else entry.git_oid}"'}
        if ranged:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{entry.size}"
        self._send_head(seen, 206 if ranged else 200, headers)
        if seen.method == "GET":
            self._body(seen, entry, start, end, fault)

    def _body(self, seen: Seen, entry: HubRepoFile, start: int, end: int,
              fault: Fault | None) -> None:
        hub = self.hub
        if fault is None and hub.rate is None and entry.path is not None:
            with entry.path.open("rb") as handle:  # the fast path: zero-copy
                self.connection.sendfile(handle, offset=start, count=end - start)
            hub.count_sent(seen, end - start)
            return
        if fault is not None and fault.kind == "no_range":
            fault = None
        limit = fault.after if fault and fault.kind in ("reset", "stall") else None
        corrupt_at = entry.size // 2 if fault and fault.kind == "wrong_bytes" else -1
        began, sent, offset = time.monotonic(), 0, start
        for piece in entry.chunks(start, end):
            if limit is not None:
                piece = piece[:max(0, limit - sent)]
            if offset <= corrupt_at < offset + len(piece):
                at = corrupt_at - offset
                piece = piece[:at] + bytes([piece[at] ^ 0xFF]) + piece[at + 1:]
            self.wfile.write(piece)
            sent, offset = sent + len(piece), offset + len(piece)
            hub.count_sent(seen, len(piece))
            if limit is not None and sent >= limit:
                break
            rate = hub.rate
            if rate and hub.stopping.wait(max(0.0, began + sent / rate - time.monotonic())):
                return
        if fault is not None and limit is not None:
            self._end_badly(fault)

    def _end_badly(self, fault: Fault) -> None:
        """Reset the connection, or stall until released (then close it)."""
        self.close_connection = True
        if fault.kind == "reset":
            reset_connection(self.connection)
        else:
            self.hub.released.wait(STALL_LIMIT_S)

    # -- answers ----------------------------------------------------------------------
    def _range(self) -> tuple[int | None, int | None]:
        value = self.headers.get("Range", "")
        if not value.startswith("bytes="):
            return None, None
        first, _, last = value[6:].partition("-")
        try:
            return int(first), int(last) if last else None
        except ValueError:
            return None, None

    def _send_head(self, seen: Seen, status: int, headers: dict[str, str]) -> None:
        seen.status = status
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _json(self, seen: Seen, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self._send_head(seen, 200, {"Content-Type": "application/json",
                                    "Content-Length": str(len(body))})
        if seen.method == "GET":
            self.wfile.write(body)

    def _error(self, seen: Seen, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)),
                   "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send_head(seen, status, headers)
        if seen.method == "GET":
            self.wfile.write(body)


def _summary(repo: HubRepo) -> dict[str, Any]:
    return {"_id": repo.sha[:24], "id": repo.id, "modelId": repo.id, "private": False,
            "downloads": repo.downloads, "likes": repo.likes, "tags": list(repo.tags),
            "gated": "auto" if repo.gated else False, "lastModified": repo.last_modified,
            "library_name": "gguf"}


def _info(repo: HubRepo) -> dict[str, Any]:
    siblings = []
    for entry in repo.files.values():
        sibling: dict[str, Any] = {"rfilename": entry.name, "size": entry.size,
                                   "blobId": entry.git_oid}
        if entry.lfs:
            sibling["lfs"] = {"size": entry.size, "sha256": entry.sha256, "pointerSize": 134}
        siblings.append(sibling)
    return {**_summary(repo), "sha": repo.sha, "disabled": False, "siblings": siblings}


def _tree_entry(entry: HubRepoFile) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "file", "path": entry.name, "size": entry.size,
                            "oid": entry.git_oid}
    if entry.lfs:
        item["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": 134}
    return item
