"""A loaded model and the conversation state around it: context fitting, saved KV states."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import llama_cpp

from app.core import protocol as p
from app.engine.context_window import Cut, fit_prompt, reply_reserve
from app.engine.generation import generate
from app.engine.loaded_model import LoadedModel, file_identity
from app.engine.state_cache import StateCache, model_fingerprint

RESTORE_GAIN = 64  # restore a saved state only when it spares reading this many tokens


class ModelSession:
    """Serves chat requests for one loaded model.

    Remembers which conversation's tokens are in the KV cache, where each conversation was
    cut to fit the window (so the cut does not move), and saves a conversation's state to
    disk when another one takes the cache, or when the model is unloaded.
    """

    def __init__(self, spec: p.ModelSpec, state_dir: Path | None, state_budget: int) -> None:
        self.model = LoadedModel(spec)
        self.spec = spec
        try:
            self._identity = file_identity(spec.path)
            self._states = StateCache(state_dir, state_budget)
            self._fingerprint = model_fingerprint(spec, self.model.n_ctx)
        except BaseException:
            self.model.close()
            raise
        self._key = ""                    # the conversation whose tokens are in the cache
        self._cuts: dict[str, Cut] = {}   # conversation -> where it was cut last time

    def serves(self, spec: p.ModelSpec) -> bool:
        """True if this session can answer for ``spec`` without a reload."""
        try:
            return spec == self.spec and file_identity(spec.path) == self._identity
        except OSError:
            return False

    def loaded_event(self, request_id: str) -> p.Loaded:
        """The ``loaded`` event describing this model."""
        model = self.model
        return p.Loaded(
            request_id=request_id, model_path=self.spec.path, n_ctx=model.n_ctx,
            n_threads=model.tuner.fixed, load_s=model.load_s,
            chat_template=bool(model.info.chat_template),
            n_ctx_train=model.info.context_length or 0, chat_format=model.template.name,
            template_note=model.template.explanation, warnings=tuple(model.warnings),
            gpu_offload=bool(llama_cpp.llama_supports_gpu_offload()),
            system_info=llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip())

    def reply(self, command: p.Chat, cancelled: Callable[[], bool],
              send: Callable[[p.Message], None]) -> p.ReplyStats:
        """Fit the conversation to the window, then generate the reply, sending its events."""
        model = self.model
        rendered: dict[str, list[str]] = {}

        def render(messages: list[dict[str, str]]) -> list[int]:
            tokens, rendered["stops"], rendered["adjustments"] = model.render(messages)
            return tokens

        key = command.cache_key
        fitted = fit_prompt(command.messages, render, model.n_ctx,
                            reply_reserve(model.n_ctx, command.sampling.max_tokens),
                            command.context_policy, self._cuts.get(key))
        if fitted.cut is None:
            self._cuts.pop(key, None)
        else:
            self._cuts[key] = fitted.cut
        self._take_cache(key, fitted.tokens)
        rid = command.request_id
        cached = model.cached_prefix(fitted.tokens)
        send(p.Started(request_id=rid, prompt_tokens=len(fitted.tokens), cached_tokens=cached,
                       n_ctx=model.n_ctx, dropped_messages=fitted.dropped))
        stats = generate(model, fitted.tokens, rendered["stops"], command.sampling,
                         cancelled, lambda text: send(p.Delta(request_id=rid, text=text)),
                         cached)
        return dataclasses.replace(stats, dropped_messages=fitted.dropped)

    def _take_cache(self, key: str, prompt: list[int]) -> None:
        """Make the KV cache hold the most of ``prompt`` that is cheaply available."""
        if key == self._key:
            return
        llama = self.model.llama
        if self._key:
            self._states.save(llama, self._fingerprint, self._key)
        self._key = key
        held = self.model.cached_prefix(prompt)
        if self._states.saved_prefix(self._fingerprint, key, prompt) > held + RESTORE_GAIN:
            self._states.restore(llama, self._fingerprint, key)

    def forget(self, keys: list[str]) -> None:
        """Deleted conversations: never save them, and empty the cache if it holds one."""
        for key in keys:   # (the worker deletes their files)
            self._cuts.pop(key, None)
        if self._key in keys:
            self._key = ""
            self.model.llama.reset()
            self.model.llama._ctx.kv_cache_clear()

    def close(self) -> None:
        """Save the current conversation's state and free the model."""
        if self._key:
            self._states.save(self.model.llama, self._fingerprint, self._key)
        self.model.close()
