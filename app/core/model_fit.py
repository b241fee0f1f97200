"""Whether a library model or a hub file fits this computer, under the user's settings."""

from __future__ import annotations

from dataclasses import replace

from app.core.fit import Fit, Hardware, assess, estimate_need, estimate_need_from_size
from app.core.generation_config import effective_values
from app.core.gguf_info import GGUFInfo
from app.core.hub import HubFile
from app.core.library import LibraryModel
from app.core.settings import Settings


def planned_context(configured: int, trained: int, fit_context: int) -> int:
    """The context the estimate assumes: the configured length, else the chosen estimate
    length capped at what the model was trained for (automatic loading does the same)."""
    if configured:
        return configured
    return min(fit_context, trained) if trained else fit_context


def fit_of_model(model: LibraryModel, settings: Settings, hardware: Hardware) -> Fit | None:
    """How ``model`` fits at its own settings' context, KV types and GPU layers."""
    if model.info is None:
        return None
    values = effective_values(settings, str(model.path))
    info = replace(model.info, file_size=model.size)  # a split model's weights: all parts
    n_ctx = planned_context(values["n_ctx"], info.context_length, settings.get("fit_context"))
    need = estimate_need(info, n_ctx, values["type_k"], values["type_v"])
    return assess(need, hardware, gpu_layers=values["n_gpu_layers"],
                  block_count=info.block_count)


def fit_of_file(hub_file: HubFile, info: GGUFInfo | None, settings: Settings,
                hardware: Hardware) -> Fit:
    """How a downloadable file would fit at the global settings."""
    trained = info.context_length if info else 0
    n_ctx = planned_context(settings.get("n_ctx"), trained, settings.get("fit_context"))
    if info is None:
        need = estimate_need_from_size(hub_file.size, n_ctx)
    else:
        need = estimate_need(replace(info, file_size=hub_file.size), n_ctx,
                             settings.get("type_k"), settings.get("type_v"))
    return assess(need, hardware, gpu_layers=settings.get("n_gpu_layers"),
                  block_count=info.block_count if info else 0)
