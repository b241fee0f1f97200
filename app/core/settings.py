"""One settings schema: typed defaults, validation, a JSON file and a changed-callback."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import SettingsError
from app.core.protocol import ModelSpec, Sampling

log = logging.getLogger(__name__)

SettingValue = str | int | float | bool


@dataclass(frozen=True)
class Setting:
    """The schema of one setting: its type, default and allowed range."""

    name: str
    type: type
    default: SettingValue
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""

    def validate(self, value: Any) -> SettingValue:
        """Return ``value`` converted to this setting's type, or raise SettingsError."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise SettingsError(f"Setting '{self.name}' must be a {self.type.__name__}, "
                                f"not {value!r}.")
        if self.minimum is not None and value < self.minimum:
            raise SettingsError(f"Setting '{self.name}' must be at least {self.minimum}.")
        if self.maximum is not None and value > self.maximum:
            raise SettingsError(f"Setting '{self.name}' must be at most {self.maximum}.")
        return value


SCHEMA: dict[str, Setting] = {s.name: s for s in (
    Setting("default_model", str, "", doc="Path of the model chosen for new chats."),
    Setting("n_threads", int, 0, 0, 512, "CPU threads for generation; 0 = physical cores."),
    Setting("n_ctx", int, 4096, 256, 1 << 20, "Context length in tokens."),
    Setting("n_gpu_layers", int, 0, -1, 10_000, "Layers offloaded to the GPU; -1 = all."),
    Setting("temperature", float, 0.7, 0.0, 5.0, "Sampling temperature."),
    Setting("top_p", float, 0.95, 0.0, 1.0, "Nucleus sampling threshold."),
    Setting("top_k", int, 40, 0, 1000, "Top-k sampling; 0 = off."),
    Setting("min_p", float, 0.05, 0.0, 1.0, "Min-p sampling threshold."),
    Setting("repeat_penalty", float, 1.1, 0.0, 5.0, "Penalty for repeated tokens."),
    Setting("max_tokens", int, 1024, 1, 1 << 20, "Longest reply in tokens."),
    Setting("system_prompt", str, "", doc="System prompt sent first in every chat."),
)}


class Settings:
    """The user's settings, backed by a JSON file in the profile.

    Unknown keys in the file are kept (a newer app may have written them); a bad value is
    logged and replaced by its default so a damaged file never stops the app.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._values: dict[str, Any] = {}
        self._listeners: list[Callable[[str, SettingValue], None]] = []
        self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("Settings file %s unreadable (%s); using defaults", self._path, exc)
            return
        if not isinstance(raw, dict):
            log.warning("Settings file %s is not a JSON object; using defaults", self._path)
            return
        for key, value in raw.items():
            spec = SCHEMA.get(key)
            if spec is None:
                self._values[key] = value
                continue
            try:
                self._values[key] = spec.validate(value)
            except SettingsError as exc:
                log.warning("Ignoring bad setting in %s: %s", self._path, exc)

    def get(self, name: str) -> Any:
        """The value of setting ``name`` (its default when unset)."""
        return self._values.get(name, SCHEMA[name].default)

    def set(self, name: str, value: Any) -> None:
        """Validate, store and save ``value``; tell listeners when it changed."""
        spec = SCHEMA.get(name)
        if spec is None:
            raise SettingsError(f"There is no setting called '{name}'.")
        value = spec.validate(value)
        if self.get(name) == value:
            return
        self._values[name] = value
        self._save()
        for listener in list(self._listeners):
            listener(name, value)

    def on_changed(self, listener: Callable[[str, SettingValue], None]) -> None:
        """Call ``listener(name, value)`` after every change."""
        self._listeners.append(listener)

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._values, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self._path)


def model_spec(settings: Settings, path: str) -> ModelSpec:
    """The engine's load parameters for the model at ``path`` under these settings."""
    return ModelSpec(path=path, n_ctx=settings.get("n_ctx"), n_threads=settings.get("n_threads"),
                     n_gpu_layers=settings.get("n_gpu_layers"))


def sampling(settings: Settings) -> Sampling:
    """The sampling parameters for the next reply under these settings."""
    return Sampling(temperature=settings.get("temperature"), top_p=settings.get("top_p"),
                    top_k=settings.get("top_k"), min_p=settings.get("min_p"),
                    repeat_penalty=settings.get("repeat_penalty"),
                    max_tokens=settings.get("max_tokens"))
