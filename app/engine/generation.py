"""The token loop: one reply from a loaded model, streamed as text pieces."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from app.core.protocol import ReplyStats, Sampling, StopReason
from app.engine.loaded_model import LoadedModel
from app.engine.text_stream import TextStream

# Text is sent in pieces at most this often: each message wakes the GUI process, which on a
# small machine takes CPU time from llama.cpp's threads. The first piece goes at once.
DELTA_INTERVAL_S = 0.03


@dataclass
class _Clock:
    started: float
    first: float = 0.0
    last: float = 0.0
    emitted: float = 0.0


def generate(model: LoadedModel, prompt: list[int], stops: list[str], sampling: Sampling,
             cancelled: Callable[[], bool], emit: Callable[[str], None],
             cached: int = 0) -> ReplyStats:
    """Stream a reply to ``prompt`` through ``emit``; return its statistics.

    ``cancelled`` is checked before every token, and by llama.cpp itself while the prompt is
    evaluated, so a stop takes effect within one token or one graph node. ``cached`` is how
    many prompt tokens the KV cache already holds (reported in the stats).
    """
    llama = model.llama
    room = model.n_ctx - len(prompt)
    max_tokens = min(sampling.max_tokens, room)
    if sampling.seed is not None:
        llama.set_seed(sampling.seed)
    stream = TextStream([*stops, *sampling.stop])
    clock = _Clock(started=time.perf_counter())
    pending: list[str] = []
    count = 0
    reason = StopReason.LENGTH if max_tokens == sampling.max_tokens else StopReason.CONTEXT_FULL
    tuner = model.tuner
    model.set_threads(tuner.begin())
    model.abort_while(cancelled)
    tokens = llama.generate(
        prompt, temp=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k,
        min_p=sampling.min_p, repeat_penalty=sampling.repeat_penalty,
        presence_penalty=sampling.presence_penalty,
        frequency_penalty=sampling.frequency_penalty, reset=True)
    try:
        for token in tokens:
            if count == 0:
                model.abort_while(None)  # the prompt is read; per-token checks from here
            if cancelled():
                reason = StopReason.STOPPED
                break
            if not sampling.ignore_eos and model.is_end(token):
                reason = StopReason.END
                break
            clock.last = time.perf_counter()
            if count == 0:
                clock.first = clock.last
            count += 1
            text = stream.feed(model.piece(token))
            if text:
                pending.append(text)
                if clock.last - clock.emitted >= DELTA_INTERVAL_S:
                    emit("".join(pending))
                    pending.clear()
                    clock.emitted = clock.last
            if stream.stopped:
                reason = StopReason.END
                break
            if count >= max_tokens:
                break
            threads = tuner.token(clock.last)
            if threads:
                model.set_threads(threads)
    except RuntimeError:  # llama_decode returned "aborted": Stop during the prompt
        if not cancelled():
            raise
        reason = StopReason.STOPPED
    finally:
        model.abort_while(None)
        tokens.close()
    rest = "".join(pending) + stream.finish()
    if rest:
        emit(rest)
    if stream.stopped:
        reason = StopReason.END
    return ReplyStats(
        prompt_tokens=len(prompt), cached_tokens=cached, completion_tokens=count,
        ttft_s=(clock.first - clock.started) if count else None,
        tokens_per_second=((count - 1) / (clock.last - clock.first))
        if count > 1 and clock.last > clock.first else None,
        total_s=time.perf_counter() - clock.started, stop_reason=reason,
        n_ctx=model.n_ctx, context_used=len(prompt) + count, n_threads=tuner.most_used())
