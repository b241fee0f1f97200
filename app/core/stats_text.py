"""Reply statistics as one line of text, for the chat view and for exports."""

from __future__ import annotations

from typing import Any


def describe_stats(stats: Any) -> str:
    """E.g. '42 tokens · 108 tok/s · first token 0.12 s · context 812/8192 · 2 threads'.

    ``stats`` is anything with ReplyStats' fields (a ReplyStats or a stored message).
    """
    parts = []
    if stats.completion_tokens:
        parts.append(f"{stats.completion_tokens} tokens")
    if stats.tokens_per_second:
        parts.append(f"{stats.tokens_per_second:.0f} tok/s")
    if stats.ttft_s is not None:
        parts.append(f"first token {stats.ttft_s:.2f} s")
    if stats.n_ctx:
        parts.append(f"context {stats.context_used or 0}/{stats.n_ctx}")
    if getattr(stats, "n_threads", 0):
        parts.append(threads_text(stats.n_threads))
    if getattr(stats, "dropped_messages", 0):
        parts.append(f"{stats.dropped_messages} older messages left out")
    return " · ".join(parts)


def threads_text(count: int) -> str:
    """E.g. '2 threads'; 0 (the setting's automatic) as 'threads: automatic'."""
    if not count:
        return "threads: automatic"
    return f"{count} thread{'s' if count > 1 else ''}"
