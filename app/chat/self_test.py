"""Headless check that a model answers: one chat turn through the window's own code path."""

from __future__ import annotations

import dataclasses
import queue
import sys
import time
from pathlib import Path
from typing import Any

from app.chat.profile import Profile
from app.chat.turn import ChatTurn
from app.core import protocol as p
from app.core.errors import HearthError
from app.core.generation_config import generation_config
from app.core.gguf_check import check_model_file
from app.core.paths import Paths
from app.core.starter_model import ensure_starter_model
from app.engine.client import EngineClient

DEFAULT_PROMPT = "In one sentence, what is a small language model?"
MAX_REPLY_TOKENS = 256
TIMEOUT_S = 300.0


def run_self_test(paths: Paths, model_path: str | None = None, prompt: str | None = None,
                  timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """Send one message and return what happened; raise HearthError on any failure."""
    profile = Profile.open(paths)
    settings, history = profile.settings, profile.history
    if model_path is None:
        path = ensure_starter_model(paths, progress=lambda text: print(text, file=sys.stderr))
    else:
        path = Path(model_path).expanduser().resolve()
    check_model_file(path)
    events: queue.SimpleQueue[p.Message] = queue.SimpleQueue()
    engine = EngineClient(events.put, **profile.engine_options())
    try:
        conversation = history.create_conversation(model_path=str(path))
        config = generation_config(settings, str(path))
        limited = dataclasses.replace(config.sampling, max_tokens=min(
            config.sampling.max_tokens, MAX_REPLY_TOKENS))
        turn = ChatTurn(history, conversation.id, dataclasses.replace(config, sampling=limited))
        turn.start(prompt or DEFAULT_PROMPT, engine)
        deadline = time.monotonic() + timeout
        while not turn.finished:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HearthError(f"The model did not finish its reply within {timeout:.0f} s.")
            try:
                turn.handle(events.get(timeout=remaining))
            except queue.Empty:
                continue
        if turn.error is not None:
            raise HearthError(turn.error.message)
        if not turn.text.strip():
            raise HearthError("The model gave an empty reply.")
        stats = turn.stats or p.ReplyStats()
        return {
            "model": str(path),
            "reply": turn.text,
            "tokens": stats.completion_tokens,
            "prompt_tokens": stats.prompt_tokens,
            "ttft_s": stats.ttft_s,
            "tokens_per_second": stats.tokens_per_second,
            "stop_reason": stats.stop_reason,
            "conversation_id": conversation.id,
            "database": str(paths.database_path),
        }
    finally:
        engine.shutdown()
