"""From layered settings to what the engine needs: a ModelSpec, Sampling, a context policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.errors import SettingsError
from app.core.protocol import KV_CACHE_TYPES, ModelSpec, Sampling
from app.core.settings import SCHEMA, Settings, validate_values

MIN_CONTEXT = 256
_FLOAT_TYPES = {"f32", "f16", "bf16"}  # every other KV cache type is quantised


@dataclass(frozen=True)
class GenerationConfig:
    """Everything one reply depends on, resolved from the three settings layers."""

    model: ModelSpec
    sampling: Sampling
    system_prompt: str
    context_policy: str


def effective_values(settings: Settings, model_path: str,
                     conversation: dict[str, Any] | None = None,
                     model_values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Global values, overridden by the model's, overridden by the conversation's.

    ``model_values`` stands in for the model's stored values (to check an edit before saving).
    """
    values = {name: settings.get(name) for name in SCHEMA}
    values.update(settings.model_overrides(model_path) if model_values is None
                  else validate_values(model_values, layer="model"))
    values.update(validate_values(conversation or {}, layer="conversation"))
    return values


def check_model_spec(spec: ModelSpec) -> None:
    """Refuse, with the reason, combinations llama.cpp would reject or misread."""
    if spec.type_v in KV_CACHE_TYPES and spec.type_v not in _FLOAT_TYPES \
            and not spec.flash_attn:
        raise SettingsError(
            f"A quantised V cache ({spec.type_v}) needs flash attention in llama.cpp.",
            "Turn on flash attention, or set the V cache type to f16.")
    for name in ("type_k", "type_v"):
        if getattr(spec, name) not in KV_CACHE_TYPES:
            raise SettingsError(f"Unknown KV cache type {getattr(spec, name)!r} for {name}.",
                                f"Use one of {', '.join(KV_CACHE_TYPES)}.")
    if spec.n_ctx < 0 or spec.n_threads < 0 or spec.n_threads_batch < 0:
        raise SettingsError("Context length and thread counts cannot be negative.")
    if 0 < spec.n_ctx < MIN_CONTEXT:
        raise SettingsError(f"A context length of {spec.n_ctx} tokens is too small.",
                            f"Use 0 (automatic) or at least {MIN_CONTEXT}.")


def generation_config(settings: Settings, model_path: str,
                      conversation: dict[str, Any] | None = None,
                      model_values: dict[str, Any] | None = None) -> GenerationConfig:
    """The resolved configuration for a reply from ``model_path``; raise SettingsError if bad."""
    v = effective_values(settings, model_path, conversation, model_values)
    spec = ModelSpec(
        path=model_path, n_ctx=v["n_ctx"], n_threads=v["n_threads"],
        n_threads_batch=v["n_threads_batch"], n_gpu_layers=v["n_gpu_layers"],
        flash_attn=v["flash_attn"], type_k=v["type_k"], type_v=v["type_v"],
        use_mmap=v["use_mmap"], use_mlock=v["use_mlock"], chat_format=v["chat_format"],
        chat_template=v["chat_template"])
    check_model_spec(spec)
    sampling = Sampling(
        temperature=v["temperature"], top_p=v["top_p"], top_k=v["top_k"], min_p=v["min_p"],
        repeat_penalty=v["repeat_penalty"], presence_penalty=v["presence_penalty"],
        frequency_penalty=v["frequency_penalty"], max_tokens=v["max_tokens"],
        seed=None if v["seed"] < 0 else v["seed"], stop=tuple(v["stop"]))
    return GenerationConfig(model=spec, sampling=sampling, system_prompt=v["system_prompt"],
                            context_policy=v["context_policy"])
