"""Conversations' KV-cache states on disk, so a long chat resumes without re-reading it.

A state is tied to the model file (path, size, modification time) and to the parameters
that shape the KV cache (context length, cache types, flash attention); it is stored as
llama.cpp's own sequence-state file plus the token list, and the folder is kept under a size
budget by deleting the least recently used states first.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from app.core.protocol import ModelSpec
from app.engine.state_files import state_paths

log = logging.getLogger("hearth.engine")

MIN_TOKENS = 256  # shorter histories are re-read faster than a state is written


def model_fingerprint(spec: ModelSpec, n_ctx: int) -> str:
    """What a saved state depends on besides the conversation."""
    stat = os.stat(spec.path)
    facts = [os.path.realpath(spec.path), stat.st_size, stat.st_mtime_ns, n_ctx, spec.type_k,
             spec.type_v, spec.flash_attn]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:24]


class StateCache:
    """Saves and restores the KV state of one llama context, by conversation key."""

    def __init__(self, folder: Path | None, budget_bytes: int) -> None:
        self.folder = folder
        self.budget_bytes = budget_bytes

    @property
    def enabled(self) -> bool:
        return self.folder is not None and self.budget_bytes > 0

    def _paths(self, fingerprint: str, key: str) -> tuple[Path, Path]:
        assert self.folder is not None
        return state_paths(self.folder, fingerprint, key)

    def save(self, llama: Any, fingerprint: str, key: str) -> bool:
        """Write the context's current state under ``key``; True if written."""
        n_tokens = int(llama.n_tokens)
        if not self.enabled or not key or n_tokens < MIN_TOKENS:
            return False
        state_path, tokens_path = self._paths(fingerprint, key)
        state_path.parent.mkdir(parents=True, exist_ok=True)
        tokens = np.ascontiguousarray(llama.input_ids[:n_tokens], dtype=np.int32)
        partial = state_path.with_suffix(".part")
        array = (llama_cpp.llama_token * n_tokens)(*tokens.tolist())
        written = llama_cpp.llama_state_seq_save_file(
            llama._ctx.ctx, str(partial).encode(), 0, array, n_tokens)
        if not written:
            partial.unlink(missing_ok=True)
            log.warning("Could not save the conversation state %s", key)
            return False
        np.save(tokens_path, tokens)
        os.replace(partial, state_path)
        self._evict()
        return True

    def saved_prefix(self, fingerprint: str, key: str, prompt: list[int]) -> int:
        """How many leading prompt tokens the saved state of ``key`` covers (0: none)."""
        if not self.enabled or not key:
            return 0
        state_path, tokens_path = self._paths(fingerprint, key)
        if not state_path.is_file():
            return 0
        try:
            saved = np.load(tokens_path)
        except (OSError, ValueError):
            return 0
        return common_prefix(saved, prompt)

    def restore(self, llama: Any, fingerprint: str, key: str) -> int:
        """Load the saved state of ``key`` into the context; return its token count."""
        state_path, _tokens_path = self._paths(fingerprint, key)
        capacity = llama.n_ctx()
        tokens = (llama_cpp.llama_token * capacity)()
        count = ctypes.c_size_t(0)
        llama._ctx.kv_cache_clear()
        read = llama_cpp.llama_state_seq_load_file(
            llama._ctx.ctx, str(state_path).encode(), 0, tokens, capacity,
            ctypes.byref(count))
        if not read:
            llama._ctx.kv_cache_clear()
            llama.n_tokens = 0
            log.warning("Saved state %s could not be loaded; reading the chat again", key)
            return 0
        n_tokens = int(count.value)
        llama.input_ids[:n_tokens] = tokens[:n_tokens]
        llama.n_tokens = n_tokens
        llama._requires_eval = True  # logits were not saved: the next token is re-read
        os.utime(state_path)          # recently used: evicted last
        return n_tokens

    def _evict(self) -> None:
        assert self.folder is not None
        states = sorted(self.folder.glob("*.state"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in states)
        while states and total > self.budget_bytes:
            oldest = states.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)
            oldest.with_suffix("").with_suffix(".tokens.npy").unlink(missing_ok=True)


def common_prefix(held: Any, tokens: list[int]) -> int:
    """How many leading tokens ``held`` (a numpy array) and ``tokens`` share."""
    length = min(len(held), len(tokens))
    if length == 0:
        return 0
    equal = held[:length] == np.asarray(tokens[:length], dtype=held.dtype)
    mismatch = np.flatnonzero(~equal)
    return int(mismatch[0]) if mismatch.size else length
