"""A hub model's memory need, from its header read with range requests, before downloading."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from app.core.fit import Hardware
from app.core.gguf_info import read_gguf_info
from app.core.hub import HubClient
from app.core.hub_fit import FIRST_READ, read_listing, remote_info
from app.core.memory import automatic_context, model_memory_bytes
from app.core.model_fit import fit_of_file
from app.core.settings import Settings
from tests.gguf_files import write_gguf
from tests.hub_server import LocalHub

GIB = 1 << 30


def _hardware(available: int) -> Hardware:
    return Hardware(ram_total=available * 2, ram_available=available, vram_total=0,
                    vram_free=0, gpu_name="")


def test_the_header_of_a_remote_model_is_read_in_growing_ranges(
        hub: LocalHub, starter_gguf: Path) -> None:
    hub.add_repo("org/Smol-GGUF", {"smol-Q4_1.gguf": starter_gguf})
    client = HubClient()
    [hub_file] = client.listing("org/Smol-GGUF").files
    info = remote_info(client, hub_file)
    local = read_gguf_info(starter_gguf)
    for field in ("architecture", "context_length", "block_count", "head_count",
                  "head_count_kv", "key_length", "value_length", "vocab_size"):
        assert getattr(info, field) == getattr(local, field), field
    assert info.chat_template == local.chat_template
    requests = hub.file_requests("smol-Q4_1.gguf")
    # The vocabulary makes this header longer than the first read: one more, larger read.
    assert [r.range_start for r in requests] == [0] * len(requests)
    assert 2 <= len(requests) <= 3
    assert hub.sent("smol-Q4_1.gguf") < starter_gguf.stat().st_size / 5


def test_listing_uses_the_smallest_file_for_every_quant(hub: LocalHub, tmp_path: Path) -> None:
    small = write_gguf(tmp_path / "m-Q2_K.gguf", context=4096, tensors=2)
    big = write_gguf(tmp_path / "m-Q8_0.gguf", context=4096, tensors=40)
    hub.add_repo("org/M-GGUF", {small.name: small, big.name: big})
    remote = read_listing(HubClient(), "org/M-GGUF")
    assert remote.note == "" and remote.info.context_length == 4096
    assert hub.file_requests(big.name) == []  # only the smallest file was read
    assert len(hub.file_requests(small.name)) == 1  # a small header: one read did it
    assert small.stat().st_size <= FIRST_READ


def test_a_file_that_is_not_gguf_leaves_a_size_only_estimate(hub: LocalHub) -> None:
    hub.add_repo("org/Odd-GGUF", {"odd-Q4_0.gguf": b"not a gguf file at all" * 10})
    remote = read_listing(HubClient(), "org/Odd-GGUF")
    assert remote.info is None
    assert remote.note == "memory estimated from file sizes only"
    settings = Settings(Path("/nonexistent/settings.json"))
    fit = fit_of_file(remote.listing.files[0], None, settings, _hardware(8 * GIB))
    assert fit.label == "fits" and fit.need > remote.listing.files[0].size


def test_each_file_is_sized_by_its_own_weights_and_the_shared_kv_cache(
        tmp_path: Path, starter_gguf: Path, hub: LocalHub) -> None:
    hub.add_repo("org/Smol-GGUF", {"smol-Q4_1.gguf": starter_gguf})
    client = HubClient()
    [hub_file] = client.listing("org/Smol-GGUF").files
    info = remote_info(client, hub_file)
    settings = Settings(tmp_path / "settings.json")
    settings.set("n_ctx", 2048)               # a chosen context: the need does not adapt
    bigger = replace(hub_file, size=hub_file.size * 4)
    plenty, need = _hardware(64 * GIB), model_memory_bytes(
        replace(info, file_size=bigger.size), 2048)
    assert fit_of_file(bigger, info, settings, plenty).need == need
    assert fit_of_file(bigger, info, settings, _hardware(need)).label == "tight"
    assert fit_of_file(bigger, info, settings, _hardware(need // 2)).label == "too big"


def test_a_file_is_assessed_at_the_context_an_automatic_load_would_get(
        tmp_path: Path, starter_gguf: Path, hub: LocalHub) -> None:
    hub.add_repo("org/Smol-GGUF", {"smol-Q4_1.gguf": starter_gguf})
    client = HubClient()
    [hub_file] = client.listing("org/Smol-GGUF").files
    info = replace(remote_info(client, hub_file), file_size=hub_file.size)
    settings = Settings(tmp_path / "settings.json")           # n_ctx 0: automatic
    for available in (64 * GIB, model_memory_bytes(info, 1024) * 10 // 7 + 10):
        fit = fit_of_file(hub_file, info, settings, _hardware(available))
        assert fit.n_ctx == automatic_context(info, available)
        assert fit.need == model_memory_bytes(info, fit.n_ctx)
        assert f"at {fit.n_ctx:,} tokens of context (automatic)" in fit.text
    assert fit.n_ctx == 1024 and fit.label == "fits"       # memory-limited, so it fits
    settings.set("type_k", "q8_0")
    settings.set("type_v", "q8_0")
    assert fit_of_file(hub_file, info, settings, _hardware(available)).n_ctx > 1024
