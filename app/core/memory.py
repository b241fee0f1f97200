"""How much memory running a model takes, and which context length the computer allows.

The estimate has three parts:

* **weights**: the GGUF file's size (llama.cpp maps the whole file; on the CPU every page
  of it is read for each token, so all of it ends up resident);
* **KV cache**: per token and layer, one K and one V row per KV head, in the cache's
  element type (``kv_cache_bytes``), exactly as llama.cpp sizes it;
* **compute buffers and runtime**: ``4 bytes × 512 (the micro-batch) × max(vocabulary,
  n_ctx × attention heads)`` for the largest scratch tensor (the logits of a batch, or the
  attention scores of a batch against the whole context, when flash attention is off),
  plus a fixed 64 MiB for llama.cpp's other buffers and the engine process itself. For
  the starter model llama.cpp reports 98 / 99 / 166 MiB of compute buffer at n_ctx 512 /
  2048 / 8192; this formula gives 160 / 160 / 208 MiB: a little above, on purpose.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import psutil

from app.core.gguf_info import GGUFInfo
from app.core.library_files import part_paths
from app.core.protocol import KV_CACHE_TYPES

MIB = 1 << 20
# Bytes per block and elements per block of each KV cache type llama.cpp accepts.
_KV_TYPES: dict[str, tuple[int, int]] = {
    "f32": (4, 1), "f16": (2, 1), "bf16": (2, 1), "q8_0": (34, 32), "q4_0": (18, 32),
    "q4_1": (20, 32), "q5_0": (22, 32), "q5_1": (24, 32), "iq4_nl": (18, 32),
}
MICRO_BATCH = 512  # llama-cpp-python's default n_ubatch
RUNTIME_OVERHEAD = 64 * MIB
CONTEXT_STEP = 256
# The shortest automatic context: room for a system prompt, a question and a reply of a
# few hundred tokens (and llama-cpp-python's batch of 512). A user may choose a shorter one
# on purpose (generation_config.MIN_CONTEXT, 256); the automatic choice never does.
MIN_CONTEXT = 512
# A model's context is unknown only in odd files; llama.cpp would refuse most of them.
FALLBACK_CONTEXT = 4096
# Part of the currently available memory a default may plan to use; the rest is left for
# the window, the operating system and the other programs' growth.
DEFAULT_BUDGET_SHARE = 0.7
# fit_label: needing up to this share of the available memory "fits"; up to all of it
# is "tight" (the system may start swapping or other programs may be squeezed).
FITS_SHARE = 0.75

FitLabel = Literal["fits", "tight", "too big"]


def _row_bytes(cache_type: str, elements: int) -> int:
    try:
        block_bytes, block = _KV_TYPES[cache_type.lower()]
    except KeyError:
        raise ValueError(f"unknown KV cache type {cache_type!r}; "
                         f"expected one of {', '.join(KV_CACHE_TYPES)}") from None
    return -(-elements // block) * block_bytes


def kv_cache_bytes(info: GGUFInfo, n_ctx: int, type_k: str = "f16",
                   type_v: str = "f16") -> int:
    """Bytes of the KV cache for ``n_ctx`` tokens with the given cache element types."""
    per_token_layer = (_row_bytes(type_k, info.head_count_kv * info.key_length)
                       + _row_bytes(type_v, info.head_count_kv * info.value_length))
    return n_ctx * info.block_count * per_token_layer


def compute_bytes(info: GGUFInfo, n_ctx: int) -> int:
    """Estimated compute buffers plus runtime overhead (see the module docstring)."""
    return 4 * MICRO_BATCH * max(info.vocab_size, n_ctx * info.head_count) + RUNTIME_OVERHEAD


def model_memory_bytes(info: GGUFInfo, n_ctx: int, type_k: str = "f16",
                       type_v: str = "f16") -> int:
    """Estimated memory to run the model with an ``n_ctx``-token context."""
    return info.file_size + kv_cache_bytes(info, n_ctx, type_k, type_v) \
        + compute_bytes(info, n_ctx)


def _trained_context(info: GGUFInfo) -> int:
    return info.context_length or FALLBACK_CONTEXT


def max_context_for_memory(info: GGUFInfo, available_bytes: int, type_k: str = "f16",
                           type_v: str = "f16") -> int:
    """The longest context that fits ``available_bytes``, or 0 if not even the weights do.

    The result is a multiple of 256, capped at the trained context length, and never below
    512 (or the trained length, if shorter) while the model itself fits.
    """
    if model_memory_bytes(info, 0, type_k, type_v) > available_bytes:
        return 0
    trained = _trained_context(info)
    low, high = 0, -(-trained // CONTEXT_STEP)  # in steps; memory grows with n_ctx
    while low < high:
        middle = (low + high + 1) // 2
        if model_memory_bytes(info, middle * CONTEXT_STEP, type_k, type_v) <= available_bytes:
            low = middle
        else:
            high = middle - 1
    return min(trained, max(MIN_CONTEXT, low * CONTEXT_STEP))


def available_memory() -> int:
    """Bytes of RAM available to a new model now (psutil's figure: reclaimable caches count).

    The one reading an automatic context is decided from: the fit labels (through
    ``fit.detect_hardware``, the same figure), the engine pool and the engine itself.
    """
    return psutil.virtual_memory().available


def automatic_context(info: GGUFInfo, available_bytes: int, type_k: str = "f16",
                      type_v: str = "f16") -> int:
    """The context length an automatic load (context setting 0) gets.

    The trained length, or less if the whole model (weights, a KV cache of ``type_k`` /
    ``type_v``, compute buffers) would not fit a 70 % share of ``available_bytes``; never
    below 512 unless the model was trained on less. ``info.file_size`` is the weights of
    the whole model (``with_all_parts``). The fit labels, the engine pool and the engine
    all decide through this function (``load_context``).
    """
    budget = int(available_bytes * DEFAULT_BUDGET_SHARE)
    trained = _trained_context(info)
    return max(min(MIN_CONTEXT, trained),
               max_context_for_memory(info, budget, type_k, type_v))


def load_context(info: GGUFInfo, n_ctx: int, available_bytes: int, type_k: str = "f16",
                 type_v: str = "f16") -> int:
    """The context a load with the context setting ``n_ctx`` gets: the setting, or when it
    is 0 (automatic) ``automatic_context``."""
    if n_ctx > 0:
        return n_ctx
    return automatic_context(info, available_bytes, type_k, type_v)


def with_all_parts(info: GGUFInfo) -> GGUFInfo:
    """``info`` with the weights of all its model's files as ``file_size`` (the first part
    of a split model, which ``read_gguf_info`` reads, may hold few of them)."""
    parts = part_paths(info.path)
    if len(parts) == 1:
        return info
    size = 0
    for part in parts:
        try:
            size += part.stat().st_size
        except OSError:
            continue  # a missing part: llama.cpp refuses the model and says so
    return replace(info, file_size=max(size, info.file_size))


def fit_label(required: int, available: int) -> FitLabel:
    """How a memory need compares with what is available, in words for the model list.

    "fits" up to 75 % of ``available``, "tight" up to 100 %, else "too big".
    """
    if required <= available * FITS_SHARE:
        return "fits"
    return "tight" if required <= available else "too big"
