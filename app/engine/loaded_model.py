"""One model loaded in the engine: checked first, loaded with llama.cpp, ready to prompt."""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import llama_cpp

from app.core.errors import ModelFileError
from app.core.gguf_info import GGUFInfo, read_gguf_info
from app.core.hardware import logical_cores, physical_cores
from app.core.memory import available_memory, load_context, with_all_parts
from app.core.protocol import ModelSpec
from app.engine import llama_log
from app.engine.chat_templates import TemplateChoice, choose_template, render_messages
from app.engine.state_cache import common_prefix
from app.engine.thread_tuner import ThreadTuner

_GGML_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8,
               "iq4_nl": 20, "bf16": 30}


class LoadedModel:
    """Owns one ``llama_cpp.Llama``; not thread-safe, so one owner only (the engine loop)."""

    def __init__(self, spec: ModelSpec) -> None:
        self.info: GGUFInfo = read_gguf_info(spec.path)  # refuses broken files first
        self.spec = spec
        self.warnings: list[str] = []
        self.tuner = ThreadTuner(physical_cores(), spec.n_threads, logical_cores(),
                                 spec.n_threads_batch)
        try:
            self._open(spec)
        except BaseException:
            self.tuner.close()   # its CPU sampler would outlive a failed load
            raise

    def _open(self, spec: ModelSpec) -> None:
        # The pool sends the context it planned (client.plan_load); other callers may send 0.
        n_ctx = load_context(with_all_parts(self.info), spec.n_ctx, available_memory(),
                             spec.type_k, spec.type_v)
        gpu_layers = self._gpu_layers(spec)
        started = time.perf_counter()
        self.llama = self._load(spec, n_ctx, gpu_layers)
        self.load_s = time.perf_counter() - started
        self.n_ctx = self.llama.n_ctx()
        self._vocab = self.llama._model.vocab
        self.template: TemplateChoice = choose_template(
            self.llama.metadata, override_format=spec.chat_format or None,
            override_template=spec.chat_template or None, tokens=self._special_tokens())
        if self.template.base_model_warning:
            self.warnings.append(self.template.base_model_warning)
        self._bos = self._token_text(self.llama.token_bos())
        self._eos = self._token_text(self.llama.token_eos())
        self._pieces: dict[int, bytes] = {}
        self._piece_buffer = ctypes.create_string_buffer(256)
        self._abort_check: Callable[[], bool] = lambda: False
        self._abort_callback = llama_cpp.ggml_abort_callback(lambda _data: self._abort_check())

    def _gpu_layers(self, spec: ModelSpec) -> int:
        if spec.n_gpu_layers == 0:
            return 0
        if not llama_cpp.llama_supports_gpu_offload():
            self.warnings.append(
                "This build of llama.cpp is CPU-only, so the GPU layers setting has no effect. "
                "See the README for building with CUDA, Metal or Vulkan.")
            return 0
        return spec.n_gpu_layers

    def _load(self, spec: ModelSpec, n_ctx: int, gpu_layers: int) -> llama_cpp.Llama:
        # (the KV types were checked with the rest of the spec: check_model_spec)
        log = llama_log.install()
        mark = log.mark()
        try:
            return llama_cpp.Llama(
                model_path=spec.path, n_ctx=n_ctx, n_threads=self.tuner.current,
                n_threads_batch=self.tuner.batch,
                n_gpu_layers=gpu_layers, flash_attn=spec.flash_attn,
                type_k=_GGML_TYPES[spec.type_k], type_v=_GGML_TYPES[spec.type_v],
                use_mmap=spec.use_mmap, use_mlock=spec.use_mlock, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            name = Path(spec.path).name
            reason = llama_log.explain_load_failure(log.lines_since(mark))
            raise ModelFileError(
                f"llama.cpp could not load '{name}': "
                + (reason or "the file is damaged, incomplete, or a model type this version "
                   "does not support."),
                "Choose another model, or download this one again.") from exc

    def _token_text(self, token: int) -> str:
        return self.llama._model.token_get_text(token) if token >= 0 else ""

    def _special_tokens(self) -> Iterator[str]:
        """Texts of the control tokens (what tells Llama 3 from Llama 2, for example).

        Lazily: walking the vocabulary takes 40-120 ms, and only a model without a usable
        chat template of its own needs it.
        """
        model = self.llama._model
        count = llama_cpp.llama_vocab_n_tokens(self._vocab)
        return (model.token_get_text(t) for t in range(count)
                if llama_cpp.llama_vocab_get_attr(self._vocab, t)
                & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL)

    def render(self, messages: list[dict[str, str]]) -> tuple[list[int], list[str], list[str]]:
        """Prompt tokens for ``messages``, the template's stop strings and any repairs made."""
        rendered = render_messages(self.template, messages, self._bos, self._eos)
        add_bos = not (self._bos and rendered.prompt.startswith(self._bos))
        tokens = self.llama.tokenize(rendered.prompt.encode("utf-8"), add_bos=add_bos,
                                     special=True)
        return tokens, rendered.stops, rendered.adjustments

    def piece(self, token: int) -> bytes:
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

    def is_end(self, token: int) -> bool:
        """True for end-of-generation tokens."""
        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def cached_prefix(self, tokens: list[int]) -> int:
        """How many of ``tokens`` llama.cpp will reuse from the KV cache."""
        same = common_prefix(self.llama.input_ids[:self.llama.n_tokens], tokens)
        return min(same, len(tokens) - 1) if same else 0

    def set_threads(self, threads: int) -> None:
        """Generate with ``threads`` threads from the next token on (prompts: tuner.batch)."""
        llama_cpp.llama_set_n_threads(self.llama._ctx.ctx, threads, self.tuner.batch)

    def abort_while(self, check: Callable[[], bool] | None) -> None:
        """Let llama.cpp stop a running evaluation when ``check()`` is true (None: off).

        The check runs between graph nodes, so it is only on while a prompt is evaluated;
        during generation the token loop checks for Stop itself.
        """
        context = self.llama._ctx.ctx
        if check is None:
            llama_cpp.llama_set_abort_callback(context, llama_cpp.ggml_abort_callback(), None)
        else:
            self._abort_check = check
            llama_cpp.llama_set_abort_callback(context, self._abort_callback, None)

    def close(self) -> None:
        """Free the model's memory now rather than at garbage collection."""
        self.tuner.close()
        self.llama.close()


def file_identity(path: str) -> tuple[int, int]:
    """Size and modification time: a model file that changed must be loaded again."""
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns
