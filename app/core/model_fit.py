"""Whether a library model or a hub file fits this computer, under the user's settings.

A model whose context is automatic is assessed at the context the engine will give it:
``memory.load_context`` with the free RAM of ``hardware`` (the figure the engine reads at
load time) and the model's KV cache types.
"""

from __future__ import annotations

from dataclasses import replace

from app.core.fit import Fit, Hardware, assess, estimate_need, estimate_need_from_size
from app.core.generation_config import effective_values
from app.core.gguf_info import GGUFInfo
from app.core.hub import HubFile
from app.core.library import LibraryModel
from app.core.memory import load_context
from app.core.settings import Settings


def fit_of_model(model: LibraryModel, settings: Settings, hardware: Hardware) -> Fit | None:
    """How ``model`` fits at its own settings' context, KV types and GPU layers."""
    if model.info is None:
        return None
    values = effective_values(settings, str(model.path))
    info = replace(model.info, file_size=model.size)  # a split model's weights: all parts
    return _fit(info, values["n_ctx"], values["type_k"], values["type_v"],
                values["n_gpu_layers"], hardware)


def fit_of_file(hub_file: HubFile, info: GGUFInfo | None, settings: Settings,
                hardware: Hardware) -> Fit:
    """How a downloadable file would fit at the global settings."""
    configured, gpu_layers = settings.get("n_ctx"), settings.get("n_gpu_layers")
    if info is None:   # no header: a rough need, at the configured or a typical context
        return replace(assess(estimate_need_from_size(hub_file.size, configured), hardware,
                              gpu_layers=gpu_layers), n_ctx=configured)
    return _fit(replace(info, file_size=hub_file.size), configured, settings.get("type_k"),
                settings.get("type_v"), gpu_layers, hardware)


def _fit(info: GGUFInfo, configured: int, type_k: str, type_v: str, gpu_layers: int,
         hardware: Hardware) -> Fit:
    n_ctx = load_context(info, configured, hardware.ram_available, type_k, type_v)
    fit = assess(estimate_need(info, n_ctx, type_k, type_v), hardware, gpu_layers=gpu_layers,
                 block_count=info.block_count)
    how = "" if configured else " (automatic)"
    return replace(fit, n_ctx=n_ctx, text=f"{fit.text}, at {n_ctx:,} tokens of context{how}")
