"""What the manager says about one model: its metadata, its memory need and its state."""

from __future__ import annotations

from html import escape

from app.core.fit import Fit
from app.core.gguf_info import GGUFInfo
from app.core.library import LibraryModel
from app.core.units import human_size


def parameter_label(info: GGUFInfo) -> str:
    """The model's size in parameters as its file states it ("135M"), else as counted."""
    if info.size_label:
        return info.size_label
    count = info.parameter_count
    return f"{count / 1e9:.1f}B" if count >= 1e9 else f"{count / 1e6:.0f}M"


def describe_model(model: LibraryModel, fit: Fit | None, is_default: bool = False) -> str:
    """A few lines of rich text about ``model`` for the details panel."""
    lines = [f"<b>{escape(model.name)}</b>" + (" — used for new chats" if is_default else "")]
    if model.error:
        lines.append(f"<span style='color:#c62828'>Cannot be used: {escape(model.error)}</span>")
    info = model.info
    if info is not None:
        facts = [info.architecture]
        if info.size_label or info.parameter_count:
            facts.append(parameter_label(info) + ("" if info.size_label else " parameters"))
        if info.quantization:
            facts.append(info.quantization)
        facts.append(f"trained context {info.context_length:,}" if info.context_length
                     else "trained context unknown")
        facts.append(f"{info.block_count} layers, {info.head_count} heads "
                     f"({info.head_count_kv} KV)")
        facts.append("chat template included" if info.chat_template
                     else "no chat template (a format is chosen by architecture)")
        if info.license:
            facts.append(f"licence {info.license}")
        lines.append(escape(" · ".join(facts)))
    if fit is not None:
        lines.append(escape(fit.text))
    parts = f" in {len(model.parts)} parts" if len(model.parts) > 1 else ""
    lines.append(escape(f"{human_size(model.size)}{parts} · {model.path}"))
    return "<br>".join(lines)
