"""Settings: typed defaults, validation, persistence, change notification."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from app.core.errors import SettingsError
from app.core.generation_config import generation_config
from app.core.settings import SCHEMA, Settings


def test_defaults_come_from_the_schema(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "settings.json")
    assert settings.get("n_ctx") == SCHEMA["n_ctx"].default
    assert settings.get("default_model") == ""


def test_changes_persist_and_notify(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = Settings(path)
    seen: list[tuple[str, object]] = []
    settings.on_changed(lambda name, value: seen.append((name, value)))
    settings.set("temperature", 0)          # an int is accepted for a float setting
    settings.set("temperature", 0.0)        # unchanged: no second notification
    settings.set("default_model", "/models/a.gguf")
    assert seen == [("temperature", 0.0), ("default_model", "/models/a.gguf")]
    reopened = Settings(path)
    assert reopened.get("temperature") == 0.0
    assert reopened.get("default_model") == "/models/a.gguf"


@pytest.mark.parametrize("name, value", [
    ("temperature", -1.0), ("temperature", "hot"), ("n_ctx", -10), ("n_ctx", True),
    ("top_p", 1.5), ("nonexistent", 1),
])
def test_bad_values_are_refused(tmp_path: Path, name: str, value: object) -> None:
    settings = Settings(tmp_path / "settings.json")
    with pytest.raises(SettingsError):
        settings.set(name, value)


@pytest.mark.allow_warnings
def test_damaged_file_falls_back_to_defaults(tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json", encoding="utf-8")
    assert Settings(path).get("n_ctx") == 0
    path.write_text(json.dumps({"n_ctx": "huge", "top_k": 7, "future_key": [1]}),
                    encoding="utf-8")
    settings = Settings(path)
    assert settings.get("n_ctx") == 0 and settings.get("top_k") == 7
    settings.set("top_k", 8)  # saving keeps keys a newer version wrote
    assert json.loads(path.read_text(encoding="utf-8"))["future_key"] == [1]
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_engine_parameters_follow_settings(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "settings.json")
    settings.set("n_ctx", 512)
    settings.set("max_tokens", 9)
    config = generation_config(settings, "/m.gguf")
    assert config.model.n_ctx == 512
    assert config.sampling.max_tokens == 9
