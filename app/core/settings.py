"""One settings schema: typed defaults, validation, a JSON file and a changed-callback.

Three layers, each overriding the one before: the global value, the model's own value
(``Settings.model_overrides``), and the conversation's value (stored with the conversation).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import SettingsError
from app.core.protocol import CONTEXT_POLICIES, KV_CACHE_TYPES
from app.core.settings_file import SettingsFile

log = logging.getLogger(__name__)

SettingValue = str | int | float | bool | list[str]
_MODELS_KEY = "models"


@dataclass(frozen=True)
class Setting:
    """The schema of one setting: its type, default and allowed values."""

    name: str
    type: type
    default: SettingValue
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""
    choices: tuple[str, ...] = ()
    per_model: bool = False          # may differ per model
    per_conversation: bool = False   # may differ per conversation

    def validate(self, value: Any) -> SettingValue:
        """Return ``value`` converted to this setting's type, or raise SettingsError."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type is list:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise SettingsError(f"Setting '{self.name}' must be a list of texts.")
            return [v for v in value if v]
        if not isinstance(value, self.type) or (self.type is not bool and isinstance(value, bool)):
            raise SettingsError(f"Setting '{self.name}' must be a {self.type.__name__}, "
                                f"not {value!r}.")
        return self._in_range(value)

    def _in_range(self, value: Any) -> SettingValue:
        """Return ``value`` (already of this setting's type) if within its limits and choices."""
        if self.minimum is not None and value < self.minimum:
            raise SettingsError(f"Setting '{self.name}' must be at least {self.minimum:g}.")
        if self.maximum is not None and value > self.maximum:
            raise SettingsError(f"Setting '{self.name}' must be at most {self.maximum:g}.")
        if self.choices and value not in self.choices:
            raise SettingsError(f"Setting '{self.name}' must be one of "
                                f"{', '.join(self.choices)}; not {value!r}.")
        return value


def _model(name: str, kind: type, default: SettingValue, minimum: float | None = None,
           maximum: float | None = None, doc: str = "", *,
           choices: tuple[str, ...] = ()) -> Setting:
    return Setting(name, kind, default, minimum, maximum, doc, choices, per_model=True)


def _chat(name: str, kind: type, default: SettingValue, minimum: float | None = None,
          maximum: float | None = None, doc: str = "", *,
          choices: tuple[str, ...] = ()) -> Setting:
    return Setting(name, kind, default, minimum, maximum, doc, choices, per_model=True,
                   per_conversation=True)


SCHEMA: dict[str, Setting] = {s.name: s for s in (
    Setting("default_model", str, "", doc="Path of the model chosen for new chats."),
    # The model library and the hub.
    Setting("library_folders", list, [], doc="Folders of GGUF files used where they are."),
    Setting("library_files", list, [], doc="Single GGUF files used where they are."),
    Setting("hub_endpoint", str, "", doc="Hugging Face address or mirror; empty = "
            "HF_ENDPOINT or the official hub."),
    _model("display_name", str, "", doc="Name shown for the model; empty = file name."),
    # Loading (per model): changing one reloads the model.
    _model("n_ctx", int, 0, 0, 1 << 20, "Context length in tokens; 0 = automatic."),
    _model("n_threads", int, 0, 0, 512, "CPU threads for generation; 0 = automatic: the cores "
           "other programs leave free, adapted while a reply is written."),
    _model("n_threads_batch", int, 0, 0, 512, "Threads for reading prompts; 0 = automatic: "
           "the free logical cores."),
    _model("n_gpu_layers", int, 0, -1, 10_000, "Layers offloaded to the GPU; -1 = all."),
    _model("flash_attn", bool, False, doc="Use flash attention."),
    _model("type_k", str, "f16", doc="KV cache type for keys.", choices=KV_CACHE_TYPES),
    _model("type_v", str, "f16", doc="KV cache type for values (quantised types need "
           "flash attention).", choices=KV_CACHE_TYPES),
    _model("use_mmap", bool, True, doc="Map the model file instead of reading it."),
    _model("use_mlock", bool, False, doc="Keep the model in RAM (no swapping)."),
    _model("chat_format", str, "", doc="Chat format override; empty = the file's template."),
    _model("chat_template", str, "", doc="A pasted Jinja2 chat template (overrides all)."),
    # Generation (per model, per conversation).
    _chat("temperature", float, 0.7, 0.0, 5.0, "Sampling temperature."),
    _chat("top_p", float, 0.95, 0.0, 1.0, "Nucleus sampling threshold."),
    _chat("top_k", int, 40, 0, 1000, "Top-k sampling; 0 = off."),
    _chat("min_p", float, 0.05, 0.0, 1.0, "Min-p sampling threshold."),
    _chat("repeat_penalty", float, 1.1, 0.0, 5.0, "Penalty for repeated tokens; 1 = off."),
    _chat("presence_penalty", float, 0.0, -2.0, 2.0, "Penalty for tokens already present."),
    _chat("frequency_penalty", float, 0.0, -2.0, 2.0, "Penalty growing with token counts."),
    _chat("seed", int, -1, -1, 2**31 - 1, "Random seed; -1 = a new one every reply."),
    _chat("max_tokens", int, 1024, 1, 1 << 20, "Longest reply in tokens."),
    _chat("stop", list, [], doc="Extra stop strings."),
    _chat("system_prompt", str, "", doc="System prompt sent first in every chat."),
    _chat("context_policy", str, "truncate_middle", choices=CONTEXT_POLICIES,
          doc="What to do when a chat outgrows the context window."),
    # Engine.
    Setting("kv_state_budget_mb", int, 2048, 0, 1 << 20,
            "Disk space for saved conversation states; 0 = none."),
    Setting("engine_memory_budget_mb", int, 0, 0, 1 << 24,
            "Memory for models kept loaded at once; 0 = half the RAM."),
    # History.
    Setting("keep_history_backups", int, 1, 0, 100,
            "How many copies of the history made before upgrades of Hearth are kept once an "
            "upgrade succeeded (history.sqlite3.backup-* in the data folder; they hold "
            "deleted chats too); 0 = none."),
)}


def validate_values(values: dict[str, Any], *, layer: str) -> dict[str, Any]:
    """Validate a dict of overrides for ``layer`` ("model" or "conversation")."""
    checked = {}
    for name, value in values.items():
        spec = SCHEMA.get(name)
        if spec is None or not (spec.per_model if layer == "model" else spec.per_conversation):
            raise SettingsError(f"'{name}' cannot be set per {layer}.")
        checked[name] = spec.validate(value)
    return checked


class Settings:
    """The user's settings, backed by a JSON file in the profile (``settings_file``).

    Every key is checked on its own, the global ones and each model's: a value this version
    cannot use (wrong type, out of range, a global-only setting set for a model) is not
    used, is listed in ``problems`` (and logged), and stays in the file as it is, where the
    user can correct it and where a newer Hearth that accepts it still finds it; only
    setting that key again replaces it. Keys this version does not know are kept too. A
    save changes only the keys this process changed, so it never erases what it did not
    understand, nor what another Hearth on the same profile saved meanwhile.

    Attributes:
        problems: what could not be used when the file was read, in sentences for the user.
    """

    def __init__(self, path: Path) -> None:
        self._file = SettingsFile(path)
        self._listeners: list[Callable[[str, SettingValue], None]] = []
        try:
            document, self.problems = self._file.read()
        except OSError as exc:
            document, self.problems = {}, [
                f"The settings file {path} could not be read ({exc}); the defaults are "
                "used and the file is left as it is."]
            log.warning("%s", self.problems[0])
        self._values, self._invalid, invalid = _checked_document(document)
        for problem in invalid:
            log.warning("%s (in %s)", problem, path)
        self.problems += invalid

    def get(self, name: str) -> Any:
        """The global value of setting ``name`` (its default when unset)."""
        return self._values.get(name, SCHEMA[name].default)

    def set(self, name: str, value: Any) -> None:
        """Validate, store and save ``value``; tell listeners when it changed."""
        spec = SCHEMA.get(name)
        if spec is None:
            raise SettingsError(f"There is no setting called '{name}'.")
        value = spec.validate(value)
        if self.get(name) == value and (name,) not in self._invalid:
            return
        self._values[name] = value
        self._invalid.discard((name,))
        self._save(lambda document: document.__setitem__(name, copy.deepcopy(value)))
        self._notify(name, value)

    def model_overrides(self, model_path: str) -> dict[str, Any]:
        """The settings this model has of its own."""
        return dict(self._values.get(_MODELS_KEY, {}).get(model_path, {}))

    def set_model_override(self, model_path: str, name: str, value: Any) -> None:
        """Give one model its own value (``None`` removes it: the global value applies).

        Removing a value the model does not have is no change: an invalid value kept in
        the file stays there.
        """
        own = self.model_overrides(model_path)
        if value is None:
            if name not in own:
                return
            own.pop(name)
        else:
            value = validate_values({name: value}, layer="model")[name]
            if own.get(name) == value and (model_path, name) not in self._invalid:
                return
            own[name] = value
        models = dict(self._values.get(_MODELS_KEY, {}), **{model_path: own})
        self._values[_MODELS_KEY] = {path: v for path, v in models.items() if v}
        self._invalid.discard((model_path, name))
        self._save(lambda document: _patch_model(document, model_path, name, value))
        self._notify(name, value)

    def on_changed(self, listener: Callable[[str, SettingValue], None]) -> None:
        """Call ``listener(name, value)`` after every change."""
        self._listeners.append(listener)

    def _notify(self, name: str, value: Any) -> None:
        for listener in list(self._listeners):
            listener(name, value)

    def _save(self, patch: Callable[[dict[str, Any]], None]) -> None:
        """Write one change; when that fails (a full disk), it applies until Hearth closes."""
        try:
            self._file.save(patch)
        except OSError as exc:
            log.warning("Could not save the settings to %s (%s); the change applies until "
                        "Hearth closes.", self._file.path, exc)


def _checked_document(document: dict[str, Any]
                      ) -> tuple[dict[str, Any], set[tuple[str, ...]], list[str]]:
    """The usable values of a settings file, the keys of the unusable ones, and why."""
    values: dict[str, Any] = {}
    invalid: set[tuple[str, ...]] = set()
    problems: list[str] = []
    for key, value in document.items():
        if key == _MODELS_KEY:
            values[key] = _checked_models(value, invalid, problems)
            continue
        spec = SCHEMA.get(key)
        if spec is None:
            continue  # a newer Hearth's setting: kept in the file, unused here
        try:
            values[key] = spec.validate(value)
        except (SettingsError, TypeError, ValueError) as exc:
            invalid.add((key,))
            problems.append(f"{exc} It is not used, and left in the file to correct.")
    return values, invalid, problems


def _checked_models(models: Any, invalid: set[tuple[str, ...]],
                    problems: list[str]) -> dict[str, dict[str, Any]]:
    if not isinstance(models, dict):
        problems.append("The per-model settings ('models') are not a JSON object; "
                        "none of them are used, and they are left in the file.")
        return {}
    checked: dict[str, dict[str, Any]] = {}
    for model_path, own in models.items():
        name_of_model = Path(model_path).name
        if not isinstance(own, dict):
            problems.append(f"The settings of model {name_of_model} are not a JSON object; "
                            "none of them are used, and they are left in the file.")
            continue
        for name, value in own.items():
            if name not in SCHEMA:
                continue  # a newer Hearth's setting
            try:
                checked.setdefault(model_path, {}).update(
                    validate_values({name: value}, layer="model"))
            except (SettingsError, TypeError, ValueError) as exc:
                invalid.add((model_path, name))
                problems.append(f"{exc} (model {name_of_model}) It is not used, and left "
                                "in the file to correct.")
    return checked


def _object_at(document: dict[str, Any], key: str) -> dict[str, Any]:
    """``document[key]`` as a dict to change; a value that is none is moved aside first."""
    value = document.get(key)
    if isinstance(value, dict):
        return value
    if value is not None:
        aside = f"{key}.invalid"
        while aside in document:
            aside += "~"
        document[aside] = value
        log.warning("Settings: %r was not a JSON object; its old value is kept as %r",
                    key, aside)
    document[key] = {}
    return document[key]


def _patch_model(document: dict[str, Any], model_path: str, name: str, value: Any) -> None:
    """Set (or, for ``None``, remove) one model's own value in the file's document."""
    models = _object_at(document, _MODELS_KEY)
    if value is None:
        own = models.get(model_path)
        if isinstance(own, dict):
            own.pop(name, None)
            if not own:
                del models[model_path]
        return
    _object_at(models, model_path)[name] = copy.deepcopy(value)
