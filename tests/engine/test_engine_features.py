"""Engine behaviour beyond one reply: context policies, stops, saved states, the pool."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from app.core import protocol as p
from app.engine.client import EngineClient
from tests.engine.conftest import LONG_PROMPT, EventLog, text_of
from tests.pace import stop_deadline_s

GREEDY = p.Sampling(temperature=0.0, max_tokens=24, repeat_penalty=1.0)
SENTENCE = "The quick brown fox jumps over the lazy dog near the old stone bridge. "


def history(exchanges: int, words: int = 6) -> list[dict[str, str]]:
    """A long conversation made of plain sentences, ending with a user question."""
    messages = [{"role": "system", "content": "You are a helpful assistant."}]
    for i in range(exchanges):
        messages.append({"role": "user", "content": f"Note {i}: " + SENTENCE * words})
        messages.append({"role": "assistant", "content": f"Noted {i}. " + SENTENCE})
    messages.append({"role": "user", "content": "What animal jumps?"})
    return messages


@pytest.mark.parametrize("policy", ["truncate_middle", "rolling"])
def test_overflow_policies_fit_the_window(engine, model_path: str, policy: str) -> None:
    client, events = engine
    spec = p.ModelSpec(path=model_path, n_ctx=512)
    done = events.until_end(client.chat(spec, history(12), GREEDY, context_policy=policy))[-1]
    assert isinstance(done, p.Done), done
    assert done.stats.dropped_messages > 0
    assert done.stats.n_ctx == 512 and done.stats.context_used <= 512
    assert done.stats.prompt_tokens + GREEDY.max_tokens <= 512


def test_an_edit_in_a_cut_chat_lets_the_model_see_the_new_branch(engine,
                                                                  model_path: str) -> None:
    client, events = engine
    spec = p.ModelSpec(path=model_path, n_ctx=512)
    long_chat = history(12)
    done = events.until_end(client.chat(spec, long_chat, GREEDY, cache_key="chat"))[-1]
    assert done.stats.dropped_messages > 6
    # The user edits their third message: the new branch is short and fits whole.
    edited = long_chat[:5] + [{"role": "user", "content": "What animal is lazy?"}]
    done = events.until_end(client.chat(spec, edited, GREEDY, cache_key="chat"))[-1]
    assert isinstance(done, p.Done) and done.stats.dropped_messages == 0


def test_stop_policy_refuses_clearly(engine, model_path: str) -> None:
    client, events = engine
    spec = p.ModelSpec(path=model_path, n_ctx=512)
    error = events.until_end(client.chat(spec, history(12), GREEDY, context_policy="stop"))[-1]
    assert isinstance(error, p.Error) and error.code == p.ErrorCode.CONTEXT_FULL
    assert "context window of 512 tokens" in error.message


def test_a_full_context_mid_reply_is_reported(engine, model_path: str) -> None:
    client, events = engine
    spec = p.ModelSpec(path=model_path, n_ctx=256)
    sampling = p.Sampling(max_tokens=5000, ignore_eos=True)
    # A prompt that nearly fills the window, so that only a few dozen tokens fill the rest
    # (a speed assumption otherwise: ~230 tokens took minutes on a loaded machine).
    question = [{"role": "user", "content": "Repeat this: " + SENTENCE * 10}]
    done = events.until_end(client.chat(spec, question, sampling))[-1]
    assert done.stats.stop_reason == p.StopReason.CONTEXT_FULL
    assert done.stats.context_used == 256
    assert done.stats.completion_tokens < 100 < done.stats.prompt_tokens


def test_stop_during_a_long_prompt(engine, model_path: str) -> None:
    client, events = engine
    spec = p.ModelSpec(path=model_path, n_ctx=4096)
    warm = events.until_end(client.chat(spec, [{"role": "user", "content": "Hi"}], GREEDY))[-1]
    request = client.chat(spec, history(4, words=8), GREEDY)   # ~650 prompt tokens
    started = _wait_for(events, request, p.Started)
    assert started.prompt_tokens - started.cached_tokens > 500   # seconds of reading here
    asked = time.monotonic()
    client.cancel(request)
    done = events.until_end(request, timeout=60)[-1]
    assert time.monotonic() - asked < stop_deadline_s(warm.stats.tokens_per_second)
    assert done.stats.stop_reason == p.StopReason.STOPPED
    assert done.stats.completion_tokens == 0
    # The engine is fine afterwards: the same question gives the same greedy answer.
    again = text_of(events.until_end(client.chat(spec, history(4, words=8), GREEDY)))
    fresh_events = EventLog()
    fresh = EngineClient(fresh_events)
    try:
        expected = text_of(fresh_events.until_end(fresh.chat(spec, history(4, words=8),
                                                             GREEDY)))
    finally:
        fresh.shutdown()
    assert again and again == expected


def test_saved_state_resumes_like_a_cold_run(tmp_path: Path, model_path: str) -> None:
    spec = p.ModelSpec(path=model_path, n_ctx=2048)
    chat = history(5)   # ~550 tokens: enough to be worth saving
    options = {"state_dir": tmp_path / "states", "state_budget_bytes": 1 << 30}

    events = EventLog()
    first = EngineClient(events, **options)
    try:
        events.until_end(first.chat(spec, chat[:-2] + [chat[-1]], GREEDY, cache_key="a"))
        events.until_end(first.chat(spec, [{"role": "user", "content": "Hi"}], GREEDY,
                                    cache_key="b"))  # "a" leaves the cache: saved to disk
    finally:
        first.shutdown()
    assert list((tmp_path / "states").glob("*.state"))

    events = EventLog()
    resumed = EngineClient(events, **options)
    try:
        warm = events.until_end(resumed.chat(spec, chat, GREEDY, cache_key="a"))
    finally:
        resumed.shutdown()
    events = EventLog()
    cold = EngineClient(events)
    try:
        reference = events.until_end(cold.chat(spec, chat, GREEDY, cache_key="a"))
    finally:
        cold.shutdown()
    assert text_of(warm) == text_of(reference) != ""
    assert warm[-1].stats.cached_tokens > 256
    assert reference[-1].stats.cached_tokens == 0


def test_two_models_stay_loaded_and_the_budget_evicts(tmp_path: Path, model_path: str) -> None:
    other = tmp_path / "copy.gguf"
    shutil.copyfile(model_path, other)
    events = EventLog()
    client = EngineClient(events)
    try:
        for path in (model_path, str(other), model_path):
            done = events.until_end(client.chat(p.ModelSpec(path=path, n_ctx=512),
                                                [{"role": "user", "content": "Hi"}], GREEDY))
            assert isinstance(done[-1], p.Done)
        assert client.loaded_models() == [str(other), model_path]
        loads = [e for e in events.seen if isinstance(e, p.Loaded)]
        assert len(loads) == 2   # coming back to the first model needed no reload
        third = tmp_path / "third.gguf"
        shutil.copyfile(model_path, third)
        client.memory_budget_bytes = 1   # from now on only one model fits
        events.until_end(client.chat(p.ModelSpec(path=str(third), n_ctx=512),
                                     [{"role": "user", "content": "Hi"}], GREEDY))
        assert client.loaded_models() == [str(third)]  # the others were unloaded
    finally:
        client.shutdown()


def test_a_model_switch_during_a_reply_waits_for_it(tmp_path: Path, model_path: str) -> None:
    """Loading another model never blocks the caller nor cuts off the reply being written."""
    other = tmp_path / "other.gguf"
    shutil.copyfile(model_path, other)
    events = EventLog()
    client = EngineClient(events, memory_budget_bytes=1)   # only one model fits
    try:
        spec = p.ModelSpec(path=model_path, n_ctx=1024)
        reply = client.chat(spec, LONG_PROMPT, p.Sampling(max_tokens=300))
        events.first_delta(reply)
        load = client.load(p.ModelSpec(path=str(other), n_ctx=512))
        # load() only queued the switch: the reply's end cannot have been seen yet.
        assert not [e for e in events.seen if getattr(e, "request_id", "") == reply
                    and isinstance(e, (p.Done, p.Error))]
        ended = events.until_end(reply)[-1]
        assert isinstance(ended, p.Done), ended       # not "its model was unloaded"
        # It ran to its own end: sampled, a reply may be short, but it was not cut off.
        assert ended.stats.stop_reason in ("end", "length"), ended.stats
        assert ended.stats.completion_tokens > 0
        assert events.until_loaded(load).model_path == str(other)
        assert client.loaded_models() == [str(other)]
    finally:
        client.shutdown()


def test_a_reply_cancelled_before_its_engine_started_is_stopped(model_path: str) -> None:
    events = EventLog()
    client = EngineClient(events)
    try:
        reply = client.chat(p.ModelSpec(path=model_path, n_ctx=1024), LONG_PROMPT,
                            p.Sampling(max_tokens=300))
        assert reply in client._queued   # not sent yet: its engine is still starting
        client.cancel(reply)
        ended = events.until_end(reply)[-1]
        assert isinstance(ended, p.Done) and ended.stats.stop_reason == p.StopReason.STOPPED
    finally:
        client.shutdown()


def test_hardware_settings_are_checked(engine, model_path: str) -> None:
    client, events = engine
    bad = p.ModelSpec(path=model_path, n_ctx=512, type_v="q8_0", flash_attn=False)
    error = events.until_end(client.chat(bad, [{"role": "user", "content": "Hi"}], GREEDY))[-1]
    assert error.code == p.ErrorCode.BAD_SETTINGS and "flash attention" in error.message
    gpu = p.ModelSpec(path=model_path, n_ctx=512, n_gpu_layers=-1)
    loaded = _wait_for(events, client.load(gpu), p.Loaded)
    assert loaded.gpu_offload is False
    assert any("CPU-only" in warning for warning in loaded.warnings)
    assert loaded.chat_format == "gguf" and loaded.n_ctx_train == 8192


def _wait_for(events: EventLog, request_id: str, kind: type[p.Message]) -> p.Message:
    while True:
        event = events.next(60)
        if getattr(event, "request_id", None) == request_id and isinstance(event, kind):
            return event
        assert not isinstance(event, p.Error), event
