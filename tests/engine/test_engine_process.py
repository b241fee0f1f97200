"""The real engine process with the real starter model."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat.profile import Profile
from app.cli import setup_logging
from app.core import protocol as p
from app.core.hardware import physical_cores
from app.core.paths import Paths
from app.engine import client as client_module
from app.engine.client import EngineClient
from tests.engine.conftest import (
    LONG_PROMPT,
    EventLog,
    text_of,
    write_unknown_architecture,
)
from tests.pace import stop_deadline_s

GREEDY = p.Sampling(temperature=0.0, max_tokens=48, repeat_penalty=1.0)
QUESTION = [{"role": "user", "content": "Name three colours of the rainbow."}]


def test_streamed_tokens_match_an_in_process_run(engine, model_path: str) -> None:
    """Every token arrives once, in order: the streamed text equals llama.cpp's own."""
    client, events = engine
    spec = p.ModelSpec(path=model_path, n_ctx=1024)
    request = client.chat(spec, QUESTION, GREEDY)
    received = events.until_end(request)
    done = received[-1]
    assert isinstance(done, p.Done), done
    streamed = text_of(received)
    assert streamed.strip()
    assert any(isinstance(e, p.Loaded) for e in events.seen)

    import llama_cpp  # in the test process only, to compare with

    from app.engine.loaded_model import LoadedModel

    model = LoadedModel(spec)
    try:
        prompt, _stops, _adjustments = model.render(QUESTION)
        tokens = []
        for token in model.llama.generate(prompt, temp=0.0, repeat_penalty=1.0):
            if llama_cpp.llama_vocab_is_eog(model.llama._model.vocab, token) or \
                    len(tokens) == GREEDY.max_tokens:
                break
            tokens.append(token)
        expected = model.llama.detokenize(tokens).decode("utf-8", errors="replace")
    finally:
        model.close()
    assert streamed == expected
    assert done.stats.completion_tokens == len(tokens)
    assert done.stats.prompt_tokens == len(prompt)
    assert done.stats.stop_reason == (p.StopReason.LENGTH if len(tokens) == GREEDY.max_tokens
                                      else p.StopReason.END)
    assert done.stats.ttft_s > 0 and done.stats.tokens_per_second > 0
    assert 1 <= done.stats.n_threads <= physical_cores()   # automatic: what it chose


def test_a_fixed_seed_repeats_the_reply(engine, model_path: str) -> None:
    client, events = engine
    spec = p.ModelSpec(path=model_path, n_ctx=1024)
    sampling = p.Sampling(temperature=0.9, seed=1234, max_tokens=40)
    first = text_of(events.until_end(client.chat(spec, QUESTION, sampling)))
    second = text_of(events.until_end(client.chat(spec, QUESTION, sampling)))
    assert first and first == second


def test_cancel_stops_within_a_token_and_engine_stays_usable(engine, model_path: str) -> None:
    client, events = engine
    spec = p.ModelSpec(path=model_path, n_ctx=2048)
    request = client.chat(spec, LONG_PROMPT, p.Sampling(max_tokens=1500))
    events.first_delta(request)
    pid = client.pid
    asked = time.monotonic()
    client.cancel(request)
    received = events.until_end(request, timeout=60)
    took = time.monotonic() - asked
    stats = received[-1].stats
    assert stats.stop_reason == p.StopReason.STOPPED
    assert took < stop_deadline_s(stats.tokens_per_second), (took, stats.tokens_per_second)
    follow_up = events.until_end(client.chat(spec, QUESTION, GREEDY))
    assert isinstance(follow_up[-1], p.Done) and text_of(follow_up)
    assert client.pid == pid


@pytest.mark.allow_warnings
def test_a_killed_engine_reports_and_the_next_request_gets_a_new_one(
        engine, model_path: str) -> None:
    client, events = engine
    spec = p.ModelSpec(path=model_path, n_ctx=2048)
    request = client.chat(spec, LONG_PROMPT, p.Sampling(max_tokens=1500))
    events.first_delta(request)
    old_pid = client.pid
    os.kill(old_pid, signal.SIGKILL)
    error = events.until_end(request, timeout=10)[-1]
    assert isinstance(error, p.Error) and error.code == p.ErrorCode.ENGINE_CRASHED
    assert "SIGKILL" in error.message
    follow_up = events.until_end(client.chat(spec, QUESTION, GREEDY))
    assert isinstance(follow_up[-1], p.Done) and text_of(follow_up)
    assert client.pid not in (None, old_pid)


def _truncated(source: str, folder: Path) -> Path:
    path = folder / "truncated.gguf"
    with open(source, "rb") as handle:
        path.write_bytes(handle.read(3_000_000))
    return path


def _noise(_source: str, folder: Path) -> Path:
    path = folder / "noise.gguf"
    path.write_bytes(os.urandom(5000))
    return path


def _bad_magic(source: str, folder: Path) -> Path:
    path = folder / "magic.gguf"
    with open(source, "rb") as handle:
        path.write_bytes(b"GGML" + handle.read(1_000_000)[4:])
    return path


def _garbage_metadata(source: str, folder: Path) -> Path:
    path = folder / "metadata.gguf"
    with open(source, "rb") as handle:
        header = handle.read(24)        # magic, version, tensor and metadata counts
    path.write_bytes(header + os.urandom(200_000))
    return path


def _unknown_architecture(_source: str, folder: Path) -> Path:
    return write_unknown_architecture(folder / "foobar.gguf")


@pytest.mark.parametrize("make, needle", [
    (lambda src, d: d / "missing.gguf", "does not exist"),
    (_noise, "not a GGUF"),
    (_bad_magic, "not a GGUF"),
    (_garbage_metadata, "metadata is damaged"),
    (_truncated, "is incomplete"),                      # caught before llama.cpp sees it
    (_unknown_architecture, "architecture 'foobar'"),    # explained from llama.cpp's log
])
def test_bad_model_files_give_a_clear_error_and_no_crash(engine, model_path: str,
                                                         tmp_path: Path, make,
                                                         needle: str) -> None:
    client, events = engine
    bad = make(model_path, tmp_path)
    request = client.chat(p.ModelSpec(path=str(bad)), QUESTION, GREEDY)
    error = events.until_end(request, timeout=60)[-1]
    assert isinstance(error, p.Error) and error.code == p.ErrorCode.MODEL_FILE
    assert needle in error.message
    assert client.loaded_models() == [str(bad)]  # its engine survived the bad file
    good = events.until_end(client.chat(p.ModelSpec(path=model_path, n_ctx=1024),
                                        QUESTION, GREEDY))
    assert isinstance(good[-1], p.Done)


def test_a_message_from_another_protocol_version_is_refused(engine, model_path: str) -> None:
    client, events = engine
    events.until_loaded(client.load(p.ModelSpec(path=model_path, n_ctx=512)))
    (engine_process,) = client._pool.values()
    engine_process._commands.send({"v": 99, "type": "chat", "request_id": "old"})
    error = events.until_end("old", timeout=30)[-1]
    assert isinstance(error, p.Error) and error.code == p.ErrorCode.PROTOCOL


def test_shutdown_ends_the_process(engine, model_path: str) -> None:
    client, events = engine
    events.until_end(client.chat(p.ModelSpec(path=model_path, n_ctx=512), QUESTION, GREEDY))
    (engine_process,) = client._pool.values()
    process = engine_process.process
    client.shutdown()
    assert not process.is_alive() and process.exitcode == 0


@pytest.mark.allow_warnings   # the engine's death is logged
def test_every_load_request_is_answered_even_when_already_loaded(engine,
                                                                 model_path: str) -> None:
    client, events = engine
    spec = p.ModelSpec(path=model_path, n_ctx=512)
    first, second = client.load(spec), client.load(spec)
    loads = [events.until_loaded(request) for request in (first, second)]
    assert [e.model_path for e in loads] == [model_path, model_path]
    assert loads[0].load_s > 0 and loads[1].load_s == 0.0   # the second found it loaded
    # Nothing is left open: the engine's death is no error for requests long answered.
    os.kill(client.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while client.loaded_models() and time.monotonic() < deadline:
        threading.Event().wait(0.05)   # the reader thread notices the death on its own
    assert client.loaded_models() == []
    follow_up = events.until_end(client.chat(spec, QUESTION, GREEDY))
    assert isinstance(follow_up[-1], p.Done)
    assert not [e for e in events.seen if isinstance(e, p.Error)]


@pytest.fixture
def profile_log(paths: Paths) -> Iterator[Path]:
    """The profile's hearth.log, written as the app writes it (``cli.setup_logging``)."""
    root = logging.getLogger()
    before = list(root.handlers)
    setup_logging(paths)
    yield paths.log_path
    for handler in [h for h in root.handlers if h not in before]:
        root.removeHandler(handler)
        handler.close()


@pytest.mark.allow_warnings   # the bug is logged at ERROR
def test_a_bug_in_the_engine_is_logged_with_its_traceback_and_told_plainly(
        model_path: str, model_paths: Paths, profile_log: Path) -> None:
    events = EventLog()
    client = EngineClient(events, **Profile.open(model_paths).engine_options())
    try:
        broken = p.Sampling(temperature="hot", max_tokens=4)   # type: ignore[arg-type]
        error = events.until_end(client.chat(p.ModelSpec(path=model_path, n_ctx=512),
                                             QUESTION, broken))[-1]
        assert isinstance(error, p.Error) and error.code == p.ErrorCode.INTERNAL
        assert "(TypeError: " in error.message
        assert "TypeError(" not in error.message               # not the exception's repr
        assert f"the details are in Hearth's log: {profile_log}." in error.message
        logged = profile_log.read_text(encoding="utf-8")
        assert "ERROR app.engine.client: Engine bug" in logged
        assert "Traceback (most recent call last)" in logged
        assert "_init_sampler" in logged                       # where in llama.cpp it broke
        follow_up = events.until_end(client.chat(p.ModelSpec(path=model_path, n_ctx=512),
                                                 QUESTION, GREEDY))
        assert isinstance(follow_up[-1], p.Done)               # the engine lives on
    finally:
        client.shutdown()


@pytest.mark.allow_warnings   # the bug is logged at ERROR
def test_a_bug_while_starting_an_engine_answers_the_request(
        engine, model_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client, events = engine
    real = client_module._EngineProcess

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug in the pool")

    monkeypatch.setattr(client_module, "_EngineProcess", broken)
    spec = p.ModelSpec(path=model_path, n_ctx=512)
    error = events.until_end(client.chat(spec, QUESTION, GREEDY), timeout=30)[-1]
    assert isinstance(error, p.Error) and error.code == p.ErrorCode.INTERNAL
    assert "RuntimeError: a bug in the pool" in error.message
    monkeypatch.setattr(client_module, "_EngineProcess", real)
    assert isinstance(events.until_end(client.chat(spec, QUESTION, GREEDY))[-1], p.Done)
