"""Memory estimates and the context length they allow."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.core import memory
from app.core.gguf_info import GGUFInfo, read_gguf_info
from app.core.memory import (
    MIB,
    automatic_context,
    available_memory,
    compute_bytes,
    fit_label,
    kv_cache_bytes,
    load_context,
    max_context_for_memory,
    model_memory_bytes,
    with_all_parts,
)

# Shaped like SmolLM2-135M: 30 layers, 3 KV heads of 64, 9 heads, 8k context.
SMALL = GGUFInfo(
    path=Path("small.gguf"), file_size=100 * MIB, version=3, architecture="llama", name="",
    size_label="", file_type=3, quantization="Q4_1", context_length=8192, block_count=30,
    embedding_length=576, vocab_size=49152, head_count=9, head_count_kv=3, key_length=64,
    value_length=64, chat_template=None, bos_token_id=None, eos_token_id=None, license="",
    parameter_count=0, tensor_count=272)
F16_BYTES_PER_TOKEN = 30 * 3 * 64 * 2 * 2  # layers × KV heads × head size × 2 bytes × (K, V)


def test_kv_cache_per_token_for_f16() -> None:
    assert F16_BYTES_PER_TOKEN == 23_040
    assert kv_cache_bytes(SMALL, 1) == 23_040
    assert kv_cache_bytes(SMALL, 512) == 512 * 23_040 == int(11.25 * MIB)  # llama.cpp's log


@pytest.mark.parametrize("cache_type, per_token", [
    ("f32", 46_080), ("f16", 23_040), ("bf16", 23_040), ("q8_0", 30 * 2 * 192 // 32 * 34),
    ("q4_0", 30 * 2 * 6 * 18), ("q4_1", 30 * 2 * 6 * 20), ("q5_0", 30 * 2 * 6 * 22),
    ("q5_1", 30 * 2 * 6 * 24), ("iq4_nl", 30 * 2 * 6 * 18), ("Q8_0", 30 * 2 * 6 * 34),
])
def test_kv_cache_types(cache_type: str, per_token: int) -> None:
    assert kv_cache_bytes(SMALL, 1000, cache_type, cache_type) == 1000 * per_token


def test_k_and_v_may_differ_in_type_and_size() -> None:
    info = dataclasses.replace(SMALL, key_length=192, value_length=128)
    assert kv_cache_bytes(info, 10, "f16", "q8_0") == 10 * 30 * (3 * 192 * 2 + 3 * 128 // 32 * 34)


def test_an_unknown_cache_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown KV cache type 'q3_k'"):
        kv_cache_bytes(SMALL, 512, "q3_k")


def test_model_memory_adds_weights_kv_and_compute() -> None:
    assert compute_bytes(SMALL, 512) == 4 * 512 * 49152 + 64 * MIB  # the logits dominate
    assert compute_bytes(SMALL, 8192) == 4 * 512 * 8192 * 9 + 64 * MIB  # attention scores
    assert model_memory_bytes(SMALL, 4096) == \
        100 * MIB + 4096 * 23_040 + compute_bytes(SMALL, 4096)


def test_max_context_is_the_largest_step_that_fits() -> None:
    for n_ctx in (768, 1024, 3072, 5120):
        available = model_memory_bytes(SMALL, n_ctx)
        assert max_context_for_memory(SMALL, available) == n_ctx
        assert max_context_for_memory(SMALL, available - 1) == n_ctx - 256
        assert max_context_for_memory(SMALL, available + 255 * 23_040) == n_ctx


def test_max_context_is_capped_at_the_trained_length() -> None:
    assert max_context_for_memory(SMALL, 10**12) == 8192
    odd = dataclasses.replace(SMALL, context_length=1000)
    assert max_context_for_memory(odd, 10**12) == 1000


def test_max_context_floor_and_nothing_fits() -> None:
    weights_only = model_memory_bytes(SMALL, 0)
    assert max_context_for_memory(SMALL, weights_only) == 512
    assert max_context_for_memory(SMALL, weights_only - 1) == 0
    tiny = dataclasses.replace(SMALL, context_length=128)
    assert max_context_for_memory(tiny, weights_only) == 128


def test_quantised_kv_allows_a_longer_context() -> None:
    budget = model_memory_bytes(SMALL, 2048)
    assert max_context_for_memory(SMALL, budget, "q8_0", "q8_0") > 2048


def test_the_automatic_context_is_the_trained_length_when_memory_allows() -> None:
    assert automatic_context(SMALL, 10**12) == 8192            # capped at the trained length
    odd = dataclasses.replace(SMALL, context_length=1000)
    assert automatic_context(odd, 10**12) == 1000


def test_the_automatic_context_is_what_a_share_of_the_memory_allows() -> None:
    need = model_memory_bytes(SMALL, 2048)
    assert automatic_context(SMALL, int(need / 0.7) + 1) == 2048
    assert automatic_context(SMALL, int(need / 0.7) - 1) == 1792   # a step (256) less
    assert automatic_context(SMALL, need) < 1024                    # weights: 100 MiB


def test_the_automatic_context_never_goes_below_512() -> None:
    assert automatic_context(SMALL, 1000) == 512               # not even the weights fit
    assert automatic_context(SMALL, model_memory_bytes(SMALL, 600) * 10 // 7) == 512
    tiny = dataclasses.replace(SMALL, context_length=256)
    assert automatic_context(tiny, 1000) == 256                # unless trained on less


def test_a_smaller_kv_cache_type_allows_a_longer_automatic_context() -> None:
    available = model_memory_bytes(SMALL, 2048) * 10 // 7 + 10
    f16 = automatic_context(SMALL, available)
    q8 = automatic_context(SMALL, available, "q8_0", "q8_0")
    q4 = automatic_context(SMALL, available, "q4_0", "q4_0")
    assert f16 == 2048 < q8 < q4
    assert model_memory_bytes(SMALL, q8, "q8_0", "q8_0") <= available * 0.7 \
        < model_memory_bytes(SMALL, q8 + 256, "q8_0", "q8_0")
    assert automatic_context(SMALL, available, "f32", "f32") < f16
    assert automatic_context(SMALL, available, "f16", "q8_0") > f16   # K and V each count


def test_the_weights_count_against_the_automatic_context() -> None:
    available = model_memory_bytes(SMALL, 4096) * 10 // 7 + 10
    heavier = dataclasses.replace(SMALL, file_size=SMALL.file_size + 1024 * 23_040)
    assert automatic_context(SMALL, available) == 4096
    assert automatic_context(heavier, available) == 3072


def test_a_load_gets_the_chosen_context_or_the_automatic_one() -> None:
    short = model_memory_bytes(SMALL, 1024) * 10 // 7 + 10
    assert load_context(SMALL, 3000, short) == 3000           # chosen: used as it is
    assert load_context(SMALL, 0, short) == automatic_context(SMALL, short) == 1024
    assert load_context(SMALL, 0, short, "q8_0", "q8_0") == \
        automatic_context(SMALL, short, "q8_0", "q8_0")


def test_the_available_memory_is_psutils_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    class Memory:
        available = 123_456_789

    monkeypatch.setattr(memory.psutil, "virtual_memory", lambda: Memory)
    assert available_memory() == 123_456_789


def test_a_split_model_weighs_all_of_its_parts(tmp_path: Path) -> None:
    parts = [tmp_path / f"m-{n:05d}-of-00003.gguf" for n in (1, 2, 3)]
    for size, part in zip((1000, 5000, 7000), parts, strict=True):
        part.write_bytes(b"\0" * size)
    first = dataclasses.replace(SMALL, path=parts[0], file_size=1000)
    assert with_all_parts(first).file_size == 13_000
    assert with_all_parts(SMALL) is SMALL                      # one file: as it is
    parts[2].unlink()
    assert with_all_parts(first).file_size == 6000             # llama.cpp will refuse it


def test_an_unknown_trained_length_falls_back_to_4096() -> None:
    unknown = dataclasses.replace(SMALL, context_length=0)
    assert max_context_for_memory(unknown, 10**12) == 4096


@pytest.mark.parametrize("required, available, label", [
    (0, 100, "fits"), (75, 100, "fits"), (76, 100, "tight"), (100, 100, "tight"),
    (101, 100, "too big"), (1, 0, "too big"),
])
def test_fit_labels(required: int, available: int, label: str) -> None:
    assert fit_label(required, available) == label


def test_the_starter_model(starter_gguf: Path) -> None:
    info = read_gguf_info(starter_gguf)
    assert kv_cache_bytes(info, 1) == 23_040
    assert kv_cache_bytes(info, 8192) == 180 * MIB  # llama.cpp: "KV buffer size = 180.00 MiB"
    full = model_memory_bytes(info, 8192)
    assert full == 98_362_432 + 180 * MIB + 208 * MIB
    assert max_context_for_memory(info, full) == 8192
    assert max_context_for_memory(info, 300 * MIB) == 2048  # (300 - 93.8 - 160) MiB of KV
    assert automatic_context(info, 8 << 30) == 8192
