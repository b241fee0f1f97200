"""Fitting conversations into the context window (policy logic, with a counting renderer)."""

from __future__ import annotations

import pytest

from app.core.errors import ContextFullError
from app.engine.context_window import fit_prompt, reply_reserve

TEMPLATE_OVERHEAD = 3  # tokens a template adds per message


def render(messages: list[dict[str, str]]) -> list[int]:
    """One token per word plus a per-message overhead; tokens name their message."""
    tokens: list[int] = []
    for message in messages:
        tokens += [hash(message["content"]) % 1000] * (len(message["content"].split())
                                                      + TEMPLATE_OVERHEAD)
    return tokens


def conversation(exchanges: int, words: int = 20, system: bool = True) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": "be brief"}] if system else []
    for i in range(exchanges):
        messages.append({"role": "user", "content": f"q{i} " + "w " * words})
        messages.append({"role": "assistant", "content": f"a{i} " + "w " * words})
    messages.append({"role": "user", "content": "last question " + "w " * words})
    return messages


def kept(messages: list[dict[str, str]], dropped: int, policy: str) -> list[str]:
    head = 3 if policy == "truncate_middle" else 1
    return [m["content"].split()[0] for m in messages[:head] + messages[head + dropped:]]


def test_a_short_conversation_is_untouched() -> None:
    messages = conversation(2)
    fitted = fit_prompt(messages, render, n_ctx=512, reserve=64, policy="truncate_middle")
    assert fitted.dropped == 0 and fitted.tokens == render(messages)


def test_stop_policy_refuses_with_a_clear_message() -> None:
    with pytest.raises(ContextFullError, match="no longer fits .* 512 tokens") as caught:
        fit_prompt(conversation(20), render, n_ctx=512, reserve=64, policy="stop")
    assert caught.value.hint


@pytest.mark.parametrize("policy, first_kept", [("truncate_middle", ["be", "q0", "a0"]),
                                                ("rolling", ["be"])])
def test_overflow_keeps_system_head_and_recent_messages(policy: str,
                                                        first_kept: list[str]) -> None:
    messages = conversation(20)
    fitted = fit_prompt(messages, render, n_ctx=512, reserve=64, policy=policy)
    assert len(fitted.tokens) <= 512 - 64
    names = kept(messages, fitted.dropped, policy)
    assert names[:len(first_kept)] == first_kept
    assert names[-1] == "last"
    assert names[len(first_kept)].startswith("q")   # whole exchanges dropped: a user turn next
    assert fitted.dropped > 0 and fitted.dropped % 2 == 0


def test_the_cut_stays_put_on_the_next_turns() -> None:
    messages = conversation(20)
    first = fit_prompt(messages, render, n_ctx=512, reserve=64, policy="rolling")
    assert len(first.tokens) <= 512 - 64 - 0.25 * 512 + 60  # left slack for the next turns
    follow = messages + [{"role": "assistant", "content": "short"},
                         {"role": "user", "content": "next"}]
    second = fit_prompt(follow, render, n_ctx=512, reserve=64, policy="rolling",
                        previous=first.cut)
    assert second.dropped == first.dropped
    assert second.tokens[:len(first.tokens) - 10] == first.tokens[:len(first.tokens) - 10]


def test_an_edit_before_the_cut_tries_the_whole_new_branch() -> None:
    messages = conversation(20)
    first = fit_prompt(messages, render, n_ctx=512, reserve=64, policy="truncate_middle")
    head = 3   # system prompt and the first exchange
    assert first.dropped >= 20
    # The user edits their message at position 11, before the cut (head + dropped): the new
    # branch is everything before it plus the edit, and it fits the window whole.
    edited = messages[:11] + [{"role": "user", "content": "edited question " + "w " * 20}]
    assert head + first.dropped > 11
    second = fit_prompt(edited, render, n_ctx=512, reserve=64, policy="truncate_middle",
                        previous=first.cut)
    assert second.dropped == 0 and second.tokens == render(edited)   # not just q0 + the edit
    # A longer new branch that does not fit is cut afresh, as if it had never been cut.
    longer = messages[:head + first.dropped - 1] + [{"role": "user", "content": "again"}]
    again = fit_prompt(longer, render, n_ctx=512, reserve=64, policy="truncate_middle",
                       previous=first.cut)
    fresh = fit_prompt(longer, render, n_ctx=512, reserve=64, policy="truncate_middle")
    assert (again.dropped, again.tokens) == (fresh.dropped, fresh.tokens)


def test_a_change_after_the_cut_keeps_it() -> None:
    messages = conversation(20)
    first = fit_prompt(messages, render, n_ctx=512, reserve=64, policy="truncate_middle")
    changed = messages[:-2] + [{"role": "assistant", "content": "another version"},
                               {"role": "user", "content": "next"}]
    second = fit_prompt(changed, render, n_ctx=512, reserve=64, policy="truncate_middle",
                        previous=first.cut)
    assert second.dropped == first.dropped and second.cut == first.cut


def test_only_the_last_message_when_nothing_else_fits() -> None:
    messages = conversation(1, words=150)
    fitted = fit_prompt(messages, render, n_ctx=512, reserve=64, policy="truncate_middle")
    assert fitted.tokens == render([messages[0], messages[-1]])


def test_a_message_too_long_for_the_window_is_refused() -> None:
    messages = [{"role": "user", "content": "w " * 600}]
    with pytest.raises(ContextFullError, match="Your message alone"):
        fit_prompt(messages, render, n_ctx=512, reserve=64, policy="rolling")


def test_reply_reserve_is_bounded_by_the_window() -> None:
    assert reply_reserve(512, 1024) == 128
    assert reply_reserve(8192, 100) == 100
