"""The export and import menu actions: file dialogs, formats by suffix, results and errors
shown to the user (the dialogs are stood in for; the files and database are real)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.core.paths import Paths
from app.storage.database import open_database
from app.storage.export import FORMAT
from app.storage.history import History
from app.ui import history_transfer as transfer


@pytest.fixture
def history(paths: Paths) -> History:
    return History(open_database(paths.database_path))


@pytest.fixture
def parent(qtbot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def boxes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every message box shown, as (kind, title, text), instead of showing it."""
    shown: list[tuple[str, str, str]] = []
    for kind in ("information", "warning"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(
            lambda _parent, title, text, *_a, kind=kind: shown.append((kind, title, text))))
    return shown


def _choose(monkeypatch: pytest.MonkeyPatch, method: str, path: Path | str,
            selected_filter: str = "") -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    def dialog(*args: Any) -> tuple[str, str]:
        calls.append(args)
        return str(path), selected_filter

    monkeypatch.setattr(QFileDialog, method, staticmethod(dialog))
    return calls


def _chat(history: History, question: str = "What is a hearth?") -> int:
    conversation = history.create_conversation(model_path="/m/tiny.gguf")
    history.add_message(conversation.id, "user", question)
    history.add_message(conversation.id, "assistant", "The floor of a fireplace.",
                        model_path="/m/tiny.gguf")
    return conversation.id


def test_export_chat_as_markdown_by_suffix(history: History, parent: QWidget, boxes: list,
                                          monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    chat = _chat(history, "What is a hearth? / a fireplace?")
    calls = _choose(monkeypatch, "getSaveFileName", tmp_path / "hearth.md",
                    transfer.JSON_FILTER)
    assert transfer.export_chat(parent, history, chat) == tmp_path / "hearth.md"
    assert Path(calls[0][2]).name == "What is a hearth_ _ a fireplace.md"   # the proposal
    text = (tmp_path / "hearth.md").read_text(encoding="utf-8")
    assert "**Assistant** (tiny)\n\nThe floor of a fireplace." in text
    assert boxes == [("information", "Export", f"Saved 1 chat to {tmp_path / 'hearth.md'}.")]


def test_export_all_adds_the_chosen_formats_suffix(history: History, parent: QWidget,
                                                  boxes: list,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    _chat(history)
    _chat(history, "Second")
    _choose(monkeypatch, "getSaveFileName", tmp_path / "backup", transfer.JSON_FILTER)
    assert transfer.export_all_chats(parent, history) == tmp_path / "backup.json"
    document = json.loads((tmp_path / "backup.json").read_text(encoding="utf-8"))
    assert document["format"] == FORMAT and len(document["conversations"]) == 2
    assert boxes[0][2].startswith("Saved 2 chats")


def test_cancelled_or_impossible_exports(history: History, parent: QWidget, boxes: list,
                                         monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    chat = _chat(history)
    assert transfer.export_chat(parent, history, None) is None
    assert boxes.pop() == ("information", "Export", "There is no saved chat to export yet.")
    _choose(monkeypatch, "getSaveFileName", "")
    assert transfer.export_chat(parent, history, chat) is None     # cancelled: nothing said
    assert boxes == []
    _choose(monkeypatch, "getSaveFileName", tmp_path / "no" / "such" / "dir.md")
    assert transfer.export_chat(parent, history, chat) is None
    kind, title, text = boxes.pop()
    assert (kind, title) == ("warning", "Export failed")
    assert "dir.md could not be written" in text and "Choose another folder" in text


def test_import_hearth_json_reports_counts(qtbot, history: History, parent: QWidget,
                                           boxes: list, monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    _chat(history)
    _choose(monkeypatch, "getSaveFileName", tmp_path / "all.json")
    transfer.export_all_chats(parent, history)
    _choose(monkeypatch, "getOpenFileName", tmp_path / "all.json")
    job = transfer.import_hearth_json(parent, history)
    with qtbot.waitSignal(job.finished, timeout=10_000) as finished:
        pass
    result = finished.args[0]
    assert result.conversations == 1 and job.result is result
    assert boxes[-1] == ("information", "Import", "Imported 1 chat (2 messages).")
    assert history.conversation_count() == 2


def test_import_errors_and_skipped_chats_are_shown(qtbot, history: History, parent: QWidget,
                                                  boxes: list,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    _choose(monkeypatch, "getOpenFileName", "")
    assert transfer.import_chatgpt_export(parent, history) is None  # no file chosen
    bad = tmp_path / "conversations.json"
    bad.write_text('[{"title": "cut off', encoding="utf-8")
    _choose(monkeypatch, "getOpenFileName", bad)
    with qtbot.waitSignal(transfer.import_chatgpt_export(parent, history).failed,
                          timeout=10_000):
        pass
    kind, title, text = boxes.pop()
    assert (kind, title) == ("warning", "Import failed")
    assert "conversations.json is not valid JSON" in text and "ChatGPT data export" in text
    entries = [{"title": f"Broken {n}", "mapping": None} for n in range(10)]
    bad.write_text(json.dumps(entries), encoding="utf-8")
    with qtbot.waitSignal(transfer.import_chatgpt_export(parent, history).finished,
                          timeout=10_000) as finished:
        pass
    result = finished.args[0]
    assert result.conversations == 0 and len(result.skipped) == 10
    kind, title, text = boxes.pop()
    assert (kind, title) == ("warning", "Import")
    assert text.startswith("Imported 0 chats (0 messages).\n\nLeft out:\n• “Broken 0”")
    assert text.endswith("… and 2 more.")
    assert history.conversations() == []
