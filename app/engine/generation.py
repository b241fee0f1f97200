"""One loaded llama.cpp model: chat-template rendering and the token loop."""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

import llama_cpp
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from app.core.errors import ContextFullError, ModelFileError
from app.core.gguf_check import check_model_file
from app.core.hardware import physical_cores
from app.core.protocol import ModelSpec, ReplyStats, Sampling, StopReason
from app.engine.text_stream import TextStream

# Used when a GGUF carries no chat template (issue: per-architecture choice comes later).
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


# Text is sent in pieces at most this often: each message wakes the GUI process, which on a
# small machine takes CPU time from llama.cpp's threads. The first piece goes at once.
DELTA_INTERVAL_S = 0.03


class LoadedModel:
    """Owns one ``llama_cpp.Llama``; not thread-safe, so one owner only (the engine loop)."""

    def __init__(self, spec: ModelSpec) -> None:
        check_model_file(spec.path)
        threads = spec.n_threads or physical_cores()
        started = time.perf_counter()
        try:
            self.llama = llama_cpp.Llama(
                model_path=spec.path, n_ctx=spec.n_ctx, n_threads=threads,
                n_threads_batch=threads, n_gpu_layers=spec.n_gpu_layers, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelFileError(
                f"llama.cpp could not load '{spec.path.rsplit('/', 1)[-1]}': the file is "
                "damaged, incomplete, or a model type this version does not support.",
                "Choose another model, or download this one again.") from exc
        self.load_s = time.perf_counter() - started
        self.spec = spec
        self.n_threads = threads
        self.n_ctx = self.llama.n_ctx()
        template = self.llama.metadata.get("tokenizer.chat_template")
        self.has_template = bool(template)
        self._formatter = Jinja2ChatFormatter(
            template=template or CHATML_TEMPLATE,
            eos_token=self._token_text(self.llama.token_eos()),
            bos_token=self._token_text(self.llama.token_bos()),
        )
        self._vocab = self.llama._model.vocab
        self._pieces: dict[int, bytes] = {}
        self._piece_buffer = ctypes.create_string_buffer(256)

    def _piece(self, token: int) -> bytes:
        """The bytes of one token (cached: the token loop calls this for every token)."""
        data = self._pieces.get(token)
        if data is None:
            buffer = self._piece_buffer
            size = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0,
                                                  False)
            if size < 0:  # longer than the buffer: -size is the length needed
                buffer = ctypes.create_string_buffer(-size)
                size = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, -size, 0,
                                                      False)
            data = self._pieces[token] = buffer.raw[:size]
        return data

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llama._model.token_get_text(token)

    def render(self, messages: list[dict[str, str]]) -> tuple[list[int], list[str]]:
        """The prompt tokens for ``messages`` and the stop strings of the template."""
        result = self._formatter(messages=messages)
        tokens = self.llama.tokenize(result.prompt.encode("utf-8"),
                                     add_bos=not result.added_special, special=True)
        stops = result.stop if isinstance(result.stop, list) else [result.stop or ""]
        return tokens, [s for s in stops if s]

    def generate(self, messages: list[dict[str, str]], sampling: Sampling,
                 cancelled: Callable[[], bool], emit: Callable[[str], None],
                 received_at: float) -> ReplyStats:
        """Stream a reply to ``messages`` through ``emit``; return its statistics.

        ``cancelled`` is checked before every token, so a stop takes effect within one.
        """
        prompt, stops = self.render(messages)
        room = self.n_ctx - len(prompt)
        if room <= 0:
            raise ContextFullError(
                f"This conversation ({len(prompt)} tokens) no longer fits the model's "
                f"context window of {self.n_ctx} tokens.",
                "Start a new chat, or raise the context length.")
        max_tokens = min(sampling.max_tokens, room)
        if sampling.seed is not None:
            self.llama.set_seed(sampling.seed)
        stream = TextStream(stops)
        piece = self._piece
        is_eog = (lambda _vocab, _token: False) if sampling.ignore_eos \
            else llama_cpp.llama_vocab_is_eog
        vocab = self._vocab
        count = 0
        first_at = last_at = emitted_at = 0.0
        pending: list[str] = []
        reason = StopReason.LENGTH
        for token in self.llama.generate(
                prompt, temp=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k,
                min_p=sampling.min_p, repeat_penalty=sampling.repeat_penalty, reset=True):
            if cancelled():
                reason = StopReason.STOPPED
                break
            if is_eog(vocab, token):
                reason = StopReason.END
                break
            last_at = time.perf_counter()
            if count == 0:
                first_at = last_at
            count += 1
            text = stream.feed(piece(token))
            if text:
                pending.append(text)
                if last_at - emitted_at >= DELTA_INTERVAL_S:
                    emit("".join(pending))
                    pending.clear()
                    emitted_at = last_at
            if stream.stopped:
                reason = StopReason.END
                break
            if count >= max_tokens:
                break
        rest = "".join(pending) + stream.finish()
        if rest:
            emit(rest)
        if stream.stopped:
            reason = StopReason.END
        ended = time.perf_counter()
        return ReplyStats(
            prompt_tokens=len(prompt), completion_tokens=count,
            ttft_s=(first_at - received_at) if count else None,
            tokens_per_second=((count - 1) / (last_at - first_at)) if count > 1 and
            last_at > first_at else None,
            total_s=ended - received_at, stop_reason=reason)

    def close(self) -> None:
        """Free the model's memory now rather than at garbage collection."""
        self.llama.close()
