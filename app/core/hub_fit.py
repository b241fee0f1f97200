"""What a model on the hub needs in memory, known before downloading it.

The architecture facts that size the KV cache (layers, KV heads, head size, trained
context) are in a GGUF file's header, which is the same for every quantisation of a
repository. So the header of the repository's smallest file is fetched with HTTP range
requests (1 MiB, growing while the header is longer, never more than 64 MiB) and read by
``gguf_info.read_gguf_header``; each file's own size stands in for its weights.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.core.errors import HearthError
from app.core.gguf_info import GGUFInfo, IncompleteHeader, read_gguf_header
from app.core.hub import HubClient, HubFile, RepoListing

log = logging.getLogger(__name__)

FIRST_READ = 1 << 20
MAX_HEADER = 64 << 20


@dataclass(frozen=True)
class RemoteFit:
    """A repository's listing with the header facts of its models (None when unknown)."""

    listing: RepoListing
    info: GGUFInfo | None
    note: str  # why ``info`` is missing, for the user; "" when it is known


def remote_info(client: HubClient, hub_file: HubFile) -> GGUFInfo:
    """Read the GGUF header of ``hub_file``'s first part from the hub."""
    part = hub_file.parts[0]
    length = min(FIRST_READ, part.size)
    while True:
        data = client.read_range(hub_file.repo_id, hub_file.revision, part.path, 0, length)
        try:
            return read_gguf_header(data, part.size, part.path.rsplit("/", 1)[-1])
        except IncompleteHeader as short:
            if length >= min(MAX_HEADER, part.size):
                raise HearthError(f"The header of {part.path} is larger than "
                                  f"{MAX_HEADER >> 20} MiB.") from short
            length = min(max(short.needed_bytes, 2 * length), MAX_HEADER, part.size)


def read_listing(client: HubClient, repo_id: str) -> RemoteFit:
    """The repository's GGUF files plus, when its header can be read, the model's facts."""
    listing = client.listing(repo_id)
    if not listing.files:
        return RemoteFit(listing, None, "")
    smallest = min(listing.files, key=lambda f: f.size)
    try:
        info = remote_info(client, smallest)
    except HearthError as exc:
        log.info("No header for %s: %s", repo_id, exc)
        return RemoteFit(listing, None, "memory estimated from file sizes only")
    return RemoteFit(listing, info, "")
