"""Hugging Face Hub access: search GGUF repos, list a repo's GGUF models, URLs and auth.

``huggingface_hub`` provides the endpoint (``HF_ENDPOINT`` for mirrors), the auth and
user-agent headers, its HTTP session, error mapping and ``model_info``. Searching sends
the request ``HfApi.list_models(filter="gguf", search=…, sort="downloads")`` sends, but
once: ``list_models`` retries refused connections and 5xx answers five times with 1–8 s
waits and no timeout, so an offline search would hang the browser for 23 s.
Downloads do not go through ``huggingface_hub`` (see ``downloads.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from huggingface_hub import HfApi, constants, hf_hub_url
from huggingface_hub.errors import OfflineModeIsEnabled
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from app import __version__
from app.core.errors import HubError
from app.core.hub_errors import translate
from app.core.hub_files import (
    HubFile,
    HubPart,
    check_repo_id,
    group_files,
    recommend,
    safe_file_name,
)

__all__ = ["HubClient", "HubFile", "HubPart", "HubRepo", "RepoListing", "check_repo_id",
           "recommend",
           "safe_file_name"]

log = logging.getLogger(__name__)

CARD_LINES = 12
_CARD_MAX_BYTES = 64 * 1024
_SEARCH_FIELDS = ["downloads", "likes", "tags", "gated", "lastModified"]


@dataclass(frozen=True)
class HubRepo:
    """A model repository found by a search."""

    id: str
    downloads: int
    likes: int
    tags: tuple[str, ...]
    gated: bool
    last_modified: str  # ISO 8601 as the hub gives it ("" if unknown)


@dataclass(frozen=True)
class RepoListing:
    """A repo's GGUF models at one commit, with the first lines of its model card."""

    repo_id: str
    revision: str
    files: tuple[HubFile, ...]   # smallest first
    card_excerpt: str
    gated: bool
    left_out: tuple[str, ...] = ()  # why some GGUF files are not offered (unsafe name, …)


def card_excerpt(text: str, lines: int = CARD_LINES) -> str:
    """The first ``lines`` non-empty lines of a model card, after its YAML front matter."""
    body = text.splitlines()
    if body and body[0].strip() == "---":
        end = next((i for i, line in enumerate(body[1:], 1) if line.strip() == "---"), None)
        body = body[end + 1:] if end is not None else []
    return "\n".join([line.rstrip() for line in body if line.strip()][:lines])


class HubClient:
    """Talks to the Hugging Face Hub (or the mirror ``HF_ENDPOINT`` names).

    Every failure is a ``HubError`` saying what happened (offline, not found, gated,
    server error, timeout). Calls block: run them in the background.
    """

    def __init__(self, token: str | None = None, endpoint: str | None = None,
                 timeout: float = 20.0) -> None:
        self.endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
        self.timeout = timeout
        # Only the token the user gave Hearth: never one another tool saved on this computer.
        self._token: str | bool = token or False
        self._api = HfApi(endpoint=self.endpoint, token=self._token, library_name="hearth",
                          library_version=__version__)

    def headers(self) -> dict[str, str]:
        """Request headers: the user agent and, with a token, the authorization."""
        return build_hf_headers(token=self._token, library_name="hearth",
                                library_version=__version__)

    def file_url(self, repo_id: str, revision: str, path: str) -> str:
        """The download URL of a file at a commit."""
        return hf_hub_url(check_repo_id(repo_id), path, revision=revision,
                          endpoint=self.endpoint)

    def search(self, query: str, limit: int = 50) -> list[HubRepo]:
        """GGUF repositories matching ``query``, most downloaded first."""
        params: dict[str, Any] = {"filter": "gguf", "search": query, "sort": "downloads",
                                  "limit": max(1, min(limit, 1000)), "expand": _SEARCH_FIELDS}
        with self._errors("the model search"):
            response = get_session().get(f"{self.endpoint}/api/models", params=params,
                                         headers=self.headers(), timeout=self.timeout)
            hf_raise_for_status(response)
            items = response.json()
        if not isinstance(items, list):
            raise translate(ValueError("not a list"), self.endpoint, "", False)
        return [_repo(item) for item in items if isinstance(item, dict) and "id" in item]

    def listing(self, repo_id: str) -> RepoListing:
        """A repo's GGUF models (split parts grouped), pinned to its current commit."""
        check_repo_id(repo_id)
        with self._errors(repo_id):
            info = self._api.model_info(repo_id, files_metadata=True, timeout=self.timeout)
        revision = info.sha or ""
        if not re.fullmatch(r"[0-9a-f]{40}", revision):
            raise HubError(f"Hugging Face gave no commit for {repo_id}.", "Try again later.")
        parts = [HubPart(s.rfilename, (s.lfs.size if s.lfs else s.size) or 0,
                         s.lfs.sha256 if s.lfs else "") for s in info.siblings or []]
        files, left_out = group_files(repo_id, revision, parts)
        for note in left_out:
            log.info("Not offering a file of %s: %s", repo_id, note)
        has_card = any(s.rfilename == "README.md" for s in info.siblings or [])
        return RepoListing(repo_id, revision, tuple(files),
                           self._card(repo_id, revision) if has_card else "",
                           bool(info.gated), tuple(left_out))

    def read_range(self, repo_id: str, revision: str, path: str, start: int,
                   length: int) -> bytes:
        """Up to ``length`` bytes of a file from offset ``start`` (e.g. a GGUF header)."""
        headers = {**self.headers(), "Range": f"bytes={start}-{start + length - 1}",
                   "Accept-Encoding": "identity"}
        with self._errors(f"{path} in {repo_id}"), get_session().stream(
                "GET", self.file_url(repo_id, revision, path), headers=headers,
                timeout=self.timeout) as response:
            hf_raise_for_status(response)
            skip = start if response.status_code == 200 else 0  # the server ignored Range
            data = bytearray()
            for chunk in response.iter_raw():
                data += chunk
                if len(data) >= skip + length:
                    break
            return bytes(data[skip:skip + length])

    def _card(self, repo_id: str, revision: str) -> str:
        try:
            with self._errors(f"the model card of {repo_id}"), get_session().stream(
                    "GET", self.file_url(repo_id, revision, "README.md"),
                    headers=self.headers(), timeout=self.timeout) as response:
                hf_raise_for_status(response)
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) >= _CARD_MAX_BYTES:
                        break
        except HubError as exc:  # the files are what matters; the card is a courtesy
            log.info("No model card for %s: %s", repo_id, exc)
            return ""
        return card_excerpt(bytes(data[:_CARD_MAX_BYTES]).decode("utf-8", "replace"))

    @contextmanager
    def _errors(self, subject: str) -> Iterator[None]:
        if constants.is_offline_mode():
            raise translate(OfflineModeIsEnabled("HF_HUB_OFFLINE is set"), self.endpoint,
                            subject, bool(self._token))
        try:
            yield
        except HubError:
            raise
        except Exception as exc:  # translate() re-raises what it does not know (a bug)
            raise translate(exc, self.endpoint, subject, bool(self._token)) from exc


def _repo(item: dict[str, Any]) -> HubRepo:
    return HubRepo(id=str(item["id"]), downloads=int(item.get("downloads") or 0),
                   likes=int(item.get("likes") or 0),
                   tags=tuple(str(t) for t in item.get("tags") or ()),
                   gated=bool(item.get("gated")),
                   last_modified=str(item.get("lastModified") or ""))
