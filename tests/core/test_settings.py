"""Settings: typed defaults, validation, persistence, change notification."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
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


@pytest.mark.allow_warnings
def test_an_invalid_model_value_spoils_no_other_value(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"top_k": 7, "models": {
        "/m/a.gguf": {"n_ctx": "huge", "n_threads": 3, "display_name": "A"},
        "/m/b.gguf": {"temperature": 0.2, "hub_endpoint": "http://x"}}}), encoding="utf-8")
    settings = Settings(path)
    assert settings.model_overrides("/m/a.gguf") == {"n_threads": 3, "display_name": "A"}
    assert settings.model_overrides("/m/b.gguf") == {"temperature": 0.2}
    assert settings.get("top_k") == 7
    assert len(settings.problems) == 2        # reported for the window, and logged
    assert "n_ctx" in settings.problems[0] and "a.gguf" in settings.problems[0]
    assert "hub_endpoint" in settings.problems[1] and "per model" in settings.problems[1]
    assert sum("n_ctx" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING) == 1

    settings.set("top_k", 8)                                  # a save of another key...
    settings.set_model_override("/m/a.gguf", "n_threads", 4)  # ...and of the same model
    settings.set_model_override("/m/a.gguf", "n_ctx", None)   # "no own value": no erasure
    on_disk = json.loads(path.read_text(encoding="utf-8"))["models"]
    assert on_disk["/m/a.gguf"] == {"n_ctx": "huge", "n_threads": 4, "display_name": "A"}
    assert on_disk["/m/b.gguf"] == {"temperature": 0.2, "hub_endpoint": "http://x"}
    reopened = Settings(path)
    assert reopened.model_overrides("/m/a.gguf") == {"n_threads": 4, "display_name": "A"}
    assert reopened.problems == settings.problems             # still there to correct

    reopened.set_model_override("/m/a.gguf", "n_ctx", 0)      # setting it again replaces it
    assert json.loads(path.read_text(encoding="utf-8"))["models"]["/m/a.gguf"]["n_ctx"] == 0
    assert len(Settings(path).problems) == 1


@pytest.mark.allow_warnings
def test_an_invalid_global_value_is_reported_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"n_ctx": "huge", "type_k": "q9_9", "top_k": 7,
                                "future_key": [1]}), encoding="utf-8")
    settings = Settings(path)
    assert settings.get("n_ctx") == 0 and settings.get("type_k") == "f16"
    assert settings.get("top_k") == 7
    assert [("n_ctx" in p, "type_k" in p) for p in settings.problems] == [(True, False),
                                                                          (False, True)]
    settings.set("top_k", 8)
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk == {"n_ctx": "huge", "type_k": "q9_9", "top_k": 8, "future_key": [1]}
    settings.set("n_ctx", 0)    # the default, set on purpose: it replaces the bad value
    assert json.loads(path.read_text(encoding="utf-8"))["n_ctx"] == 0
    assert len(Settings(path).problems) == 1


@pytest.mark.allow_warnings
def test_an_unreadable_file_is_set_aside_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b'{"top_k": 7, oops')
    settings = Settings(path)
    aside = list(tmp_path.glob("settings.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b'{"top_k": 7, oops'
    assert not path.exists() and settings.get("top_k") == SCHEMA["top_k"].default
    assert len(settings.problems) == 1 and aside[0].name in settings.problems[0]
    settings.set("temperature", 0.5)
    assert json.loads(path.read_text(encoding="utf-8")) == {"temperature": 0.5}
    assert aside[0].read_bytes() == b'{"top_k": 7, oops'

    path.write_bytes(b"\xff[1]")       # damaged while Hearth runs (not UTF-8 this time)
    settings.set("top_k", 3)           # the save sets it aside too, and keeps what it knew
    assert len(list(tmp_path.glob("settings.json.corrupt-*"))) == 2
    assert json.loads(path.read_text(encoding="utf-8")) == {"temperature": 0.5, "top_k": 3}
    path.write_text("[1, 2]", encoding="utf-8")   # JSON, but not an object
    assert Settings(path).problems and len(list(tmp_path.glob("settings.json.corrupt-*"))) == 3


def test_a_save_is_fsynced_then_renamed_into_place(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "settings.json"
    settings = Settings(path)
    settings.set("top_k", 7)
    steps: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (steps.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (steps.append("replace"),
                                                     real_replace(a, b))[1])
    settings.set("top_k", 8)
    assert steps == ["fsync", "replace"] + (["fsync"] if os.name == "posix" else [])
    assert json.loads(path.read_text(encoding="utf-8")) == {"top_k": 8}


@pytest.mark.allow_warnings
def test_a_failed_save_leaves_the_old_file_whole(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "settings.json"
    settings = Settings(path)
    settings.set("top_k", 7)
    before = path.read_bytes()

    def disk_full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    settings.set("top_k", 8)
    assert path.read_bytes() == before
    assert settings.get("top_k") == 8                    # it applies until Hearth closes
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temp left
    assert any("Could not save the settings" in r.getMessage() for r in caplog.records)


def test_two_hearths_on_one_file_keep_each_others_changes(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    first, second = Settings(path), Settings(path)
    first.set("top_k", 5)
    second.set("temperature", 0.3)
    first.set_model_override("/m/a.gguf", "n_threads", 2)
    second.set_model_override("/m/b.gguf", "n_threads", 3)
    second.set_model_override("/m/a.gguf", "display_name", "A")
    first.set_model_override("/m/a.gguf", "n_threads", None)
    on_disk = Settings(path)
    assert on_disk.get("top_k") == 5 and on_disk.get("temperature") == 0.3
    assert on_disk.model_overrides("/m/a.gguf") == {"display_name": "A"}
    assert on_disk.model_overrides("/m/b.gguf") == {"n_threads": 3}


_WRITER = """
import sys
from pathlib import Path
from app.core.settings import Settings
settings = Settings(Path(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()   # start together with the other writer
for number in range(int(sys.argv[3])):
    settings.set_model_override(f"/{sys.argv[2]}/{number}.gguf", "n_threads", number + 1)
"""


def test_two_processes_saving_at_once_lose_nothing(tmp_path: Path) -> None:
    path, count = tmp_path / "settings.json", 150
    root = Path(__file__).resolve().parents[2]
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), name, str(count)],
                                cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True) for name in ("one", "two")]
    for writer in writers:
        assert writer.stdout.readline().strip() == "ready"
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.close()
    for writer in writers:
        assert writer.wait(timeout=120) == 0
        writer.stdout.close()
    settings = Settings(path)
    lost = [(name, number) for name in ("one", "two") for number in range(count)
            if settings.model_overrides(f"/{name}/{number}.gguf") != {"n_threads": number + 1}]
    assert lost == []
