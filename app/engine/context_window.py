"""Fitting a conversation into the model's context window before llama.cpp refuses it.

llama-cpp-python raises "Requested tokens exceed context window" and never shifts context
itself, so the engine decides what the model sees, by the conversation's policy:

- ``truncate_middle``: keep the system prompt and the first exchange, then as many recent
  messages as fit;
- ``rolling``: keep the system prompt and as many recent messages as fit;
- ``stop``: refuse with a clear message.

Messages are dropped in whole exchanges, and once dropped they stay dropped for the rest of
the conversation (plus some slack), so the prompt's prefix stays the same from turn to turn
and llama.cpp keeps reusing its KV cache. A cut is remembered by the messages it covers (the
ones left out and the first one kept), not by their number: when the branch changes at or
before the cut (an edit, another version), the whole branch is tried again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from app.core.errors import ContextFullError

Messages = list[dict[str, str]]
Render = Callable[[Messages], list[int]]

SLACK = 0.25  # after a cut, leave this share of the window free for the next turns


@dataclass(frozen=True)
class Cut:
    """Where a conversation was cut: how many messages were left out, and which."""

    dropped: int
    covers: str   # digest of the messages up to and including the first one kept


@dataclass(frozen=True)
class FittedPrompt:
    """The prompt tokens to evaluate, how many messages were left out, and the cut to keep."""

    tokens: list[int]
    dropped: int
    cut: Cut | None = None


def _digest(messages: Messages) -> str:
    text = json.dumps([(m["role"], m["content"]) for m in messages], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reply_reserve(n_ctx: int, max_tokens: int) -> int:
    """Room kept free for the reply when deciding whether a prompt fits."""
    return max(1, min(max_tokens, n_ctx // 4))


def _split(messages: Messages, policy: str) -> tuple[Messages, Messages, Messages]:
    """(kept head, droppable middle, kept tail) of a conversation."""
    head = [m for m in messages[:1] if m["role"] == "system"]
    body = messages[len(head):]
    tail, body = body[-1:], body[:-1]
    if policy == "truncate_middle" and len(body) >= 2:
        head, body = head + body[:2], body[2:]
    return head, body, tail


def _exchange_starts(middle: Messages) -> list[int]:
    """Drop counts that cut between exchanges (the next kept message is the user's)."""
    starts = [k for k in range(1, len(middle)) if middle[k]["role"] == "user"]
    return [0, *starts, len(middle)]


def fit_prompt(messages: Messages, render: Render, n_ctx: int, reserve: int, policy: str,
               previous: Cut | None = None) -> FittedPrompt:
    """Render ``messages`` so the prompt plus ``reserve`` fits ``n_ctx``, by ``policy``.

    ``previous`` is the cut of the previous turn; it is kept when the conversation still
    holds the same messages up to it and it still fits, so that the prompt prefix does not
    move.
    """
    limit = n_ctx - reserve
    head, middle, tail = _split(messages, policy)
    cuts = _exchange_starts(middle)

    def cut_at(drop: int) -> Cut:
        return Cut(drop, _digest(head + middle[:drop + 1]))

    already_dropped = 0
    if previous is not None and previous.dropped <= len(middle) \
            and cut_at(previous.dropped) == previous:
        already_dropped = previous.dropped

    rendered: dict[int, list[int]] = {}  # each render is a template run plus tokenizing

    def attempt(drop: int) -> list[int]:
        if drop not in rendered:
            rendered[drop] = render(head + middle[drop:] + tail)
        return rendered[drop]

    if not already_dropped or policy == "stop":
        tokens = attempt(0)
        if len(tokens) <= limit and not already_dropped:
            return FittedPrompt(tokens, 0, None)
        if policy == "stop":
            raise ContextFullError(
                f"This conversation ({len(tokens)} tokens plus room for the reply) no longer "
                f"fits the model's context window of {n_ctx} tokens.",
                "Start a new chat, raise the context length, or let Hearth leave out older "
                "messages (context policy).")
    fitting = [k for k in cuts if k >= already_dropped] or [len(middle)]
    # Usually the previous cut still fits: one render, no search.
    chosen = fitting[0] if len(attempt(fitting[0])) <= limit else \
        _smallest_fitting(fitting, attempt, limit)
    if chosen is not None and chosen > already_dropped:
        # A new cut: cut deeper, so that the next turns fit without moving it again.
        roomy = _smallest_fitting([k for k in fitting if k >= chosen], attempt,
                                  int(limit - SLACK * n_ctx))
        chosen = roomy if roomy is not None else chosen
    if chosen is not None:
        return FittedPrompt(attempt(chosen), chosen, cut_at(chosen))
    last_only = render([m for m in head if m["role"] == "system"] + tail)
    if len(last_only) <= limit:
        return FittedPrompt(last_only, len(messages) - len(tail) -
                            (1 if head and head[0]["role"] == "system" else 0))
    raise ContextFullError(
        f"Your message alone ({len(last_only)} tokens with the system prompt) does not fit "
        f"the model's context window of {n_ctx} tokens with room for a reply.",
        "Shorten the message, or raise the context length.")


def _smallest_fitting(cuts: list[int], attempt: Callable[[int], list[int]],
                      limit: int) -> int | None:
    """The smallest cut whose prompt fits ``limit`` (binary search: longer cut, shorter prompt)."""
    low, high, found = 0, len(cuts) - 1, None
    while low <= high:
        middle = (low + high) // 2
        if len(attempt(cuts[middle])) <= limit:
            found, high = cuts[middle], middle - 1
        else:
            low = middle + 1
    return found
