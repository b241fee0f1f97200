"""Export to JSON and Markdown, and import of Hearth JSON: complete, exact, and careful
with bad input (clear errors, nothing lost, nothing half-imported)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.paths import Paths, resolve_paths
from app.core.protocol import ReplyStats, StopReason
from app.storage import import_tree, importing
from app.storage.database import open_database
from app.storage.export import (
    FORMAT,
    HistoryExportError,
    export_json,
    export_markdown,
    history_document,
)
from app.storage.history import History
from app.storage.importing import HistoryImportError, import_json
from app.storage.schema import Message, MessageStatus

MODEL = "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf"


@pytest.fixture
def history(paths: Paths) -> History:
    return History(open_database(paths.database_path))


def _fresh_history(tmp_path: Path, name: str) -> History:
    return History(open_database(resolve_paths(tmp_path / name).ensure().database_path))


def _reply(history: History, conversation_id: int, text: str, parent_id: int | None = None,
           **stats: Any) -> int:
    kwargs = {} if parent_id is None else {"parent_id": parent_id}
    message = history.add_message(conversation_id, "assistant", "", model_path=MODEL,
                                  status=MessageStatus.STREAMING, **kwargs)
    history.finish_message(message.id, text, stats.pop("status", MessageStatus.COMPLETE),
                           ReplyStats(**stats) if stats else None)
    return message.id


def _build(history: History) -> tuple[int, int]:
    """Two chats with branches, settings, pinning and statistics (and a deleted one)."""
    trip = history.create_conversation(model_path=MODEL)
    first = history.add_message(trip.id, "user", "What is the capital of France?")
    _reply(history, trip.id, "Paris.", prompt_tokens=12, cached_tokens=0, completion_tokens=3,
           ttft_s=0.08, tokens_per_second=41.5, n_ctx=2048, context_used=15, n_threads=2)
    regenerated = _reply(history, trip.id, "It is Paris.", parent_id=first.id,
                         prompt_tokens=12, cached_tokens=12, completion_tokens=5, ttft_s=0.01,
                         tokens_per_second=44.0, n_ctx=2048, context_used=17,
                         stop_reason=StopReason.LENGTH)
    history.add_message(trip.id, "user", "And of Spain?")
    _reply(history, trip.id, "Madrid.", completion_tokens=3, n_ctx=2048, context_used=40)
    edited = history.add_message(trip.id, "user", "What is the capital of Italy?",
                                 parent_id=None)
    _reply(history, trip.id, "Ro", status=MessageStatus.STOPPED, completion_tokens=1,
           stop_reason=StopReason.STOPPED)
    history.switch_to(regenerated)          # the active path: first, regenerated, Spain...
    history.set_conversation_settings(trip.id, {"temperature": 0.3,
                                                "system_prompt": "Be brief."})
    history.set_pinned(trip.id, True)
    assert edited.parent_id is None

    broken = history.create_conversation(model_path=MODEL)
    history.add_message(broken.id, "user", "Tell me a story.")
    failed = history.add_message(broken.id, "assistant", "Once", model_path=MODEL,
                                 status=MessageStatus.STREAMING)
    history.finish_message(failed.id, "Once", MessageStatus.ERROR, error="The engine died.",
                           stop_reason=StopReason.ERROR)

    gone = history.create_conversation()
    history.add_message(gone.id, "user", "Deleted, not exported.")
    history.delete_conversation(gone.id)
    return trip.id, broken.id


def _comparable(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversations with database ids replaced by positions in the file."""
    result = []
    for conversation in document["conversations"]:
        position = {m["id"]: n for n, m in enumerate(conversation["messages"])}
        messages = [{**m, "id": position[m["id"]], "parent_id": position.get(m["parent_id"])}
                    for m in conversation["messages"]]
        result.append({**conversation, "source_id": None, "messages": messages,
                       "active_leaf": position.get(conversation["active_leaf"])})
    return result


def _path(history: History, conversation_id: int) -> list[tuple[str, str, int, int]]:
    return [(m.role, m.content, m.sibling_ids.index(m.id), len(m.sibling_ids))
            for m in history.messages(conversation_id)]


def test_json_export_and_import_round_trip_exactly(history: History, tmp_path: Path) -> None:
    trip, broken = _build(history)
    exported = tmp_path / "chats.json"
    assert export_json(history, None, exported) == 2
    document = json.loads(exported.read_text(encoding="utf-8"))
    assert document["format"] == FORMAT and document["version"] == 1
    assert [c["source_id"] for c in document["conversations"]] == [trip, broken]
    assert len(document["conversations"][0]["messages"]) == 7       # every branch
    assert [m["n_threads"] for m in document["conversations"][0]["messages"]
            if m["n_threads"]] == [2]                                # every statistic

    other = _fresh_history(tmp_path, "other")
    result = import_json(other, exported)
    assert (result.conversations, result.messages, result.skipped) == (2, 9, [])
    again = history_document(other, None)
    assert _comparable(again) == _comparable(document)

    imported = {c.title: c for c in other.conversations()}
    new_trip = imported["What is the capital of France?"]
    assert new_trip.pinned and new_trip.model_path == MODEL
    assert other.conversation_settings(new_trip.id) == {"temperature": 0.3,
                                                        "system_prompt": "Be brief."}
    assert _path(other, new_trip.id) == _path(history, trip) == [
        ("user", "What is the capital of France?", 0, 2), ("assistant", "It is Paris.", 1, 2),
        ("user", "And of Spain?", 0, 1), ("assistant", "Madrid.", 0, 1)]
    reply = other.messages(new_trip.id)[1]
    assert (reply.cached_tokens, reply.ttft_s, reply.stop_reason) == (12, 0.01, "length")
    failed = other.messages(imported["Tell me a story."].id)[-1]
    assert (failed.status, failed.error) == (MessageStatus.ERROR, "The engine died.")


def test_export_of_chosen_chats_and_of_a_missing_one(history: History,
                                                     tmp_path: Path) -> None:
    trip, broken = _build(history)
    target = tmp_path / "one.json"
    assert export_json(history, [broken], target) == 1
    titles = [c["title"] for c in json.loads(target.read_text())["conversations"]]
    assert titles == ["Tell me a story."]
    with pytest.raises(HistoryExportError, match="no longer exists") as error:
        export_json(history, [trip, 999], tmp_path / "two.json")
    assert error.value.hint
    assert not (tmp_path / "two.json").exists()


def test_markdown_shows_the_active_path_with_versions_and_stats(history: History,
                                                                tmp_path: Path) -> None:
    _build(history)
    target = tmp_path / "chats.md"
    assert export_markdown(history, None, target) == 2
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# What is the capital of France?\n")
    assert "**You**\n\nWhat is the capital of France?\n\n*version 1 of 2*" in text
    assert "**Assistant** (qwen2.5-0.5b-instruct-q4_k_m)\n\nIt is Paris.\n\n" in text
    assert ("*5 tokens · 44 tok/s · first token 0.01 s · context 17/2048 · version 2 of 2*"
            in text)
    assert "Madrid." in text and "Ro\n" not in text and "\nParis.\n" not in text
    assert "# Tell me a story." in text and "*error: The engine died.*" in text
    assert "Deleted" not in text


def test_a_failed_write_keeps_the_old_file(history: History, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _build(history)
    target = tmp_path / "exports" / "chats.json"
    target.parent.mkdir()
    target.write_text("old backup")

    def disk_full(*_args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(HistoryExportError, match="No space left on device") as error:
        export_json(history, None, target)
    assert "disk space" in error.value.hint
    assert target.read_text() == "old backup"
    assert [p.name for p in target.parent.iterdir()] == ["chats.json"]   # no temp file left
    with pytest.raises(HistoryExportError, match="could not be written"):
        export_markdown(history, None, tmp_path / "missing" / "chats.md")


def _document(*conversations: Any, version: int = 1) -> dict[str, Any]:
    return {"format": FORMAT, "version": version, "exported_at": None,
            "conversations": list(conversations)}


def _conversation(title: str, *messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"title": title, "created_at": "2024-05-01T10:00:00+00:00",
            "updated_at": "2024-05-01T10:05:00+00:00", "settings": {}, "pinned": False,
            "active_leaf": messages[-1]["id"] if messages else None,
            "messages": list(messages), **fields}


def _msg(key: Any, parent: Any, role: str = "user", **fields: Any) -> dict[str, Any]:
    return {"id": key, "parent_id": parent, "role": role, "content": f"text {key}", **fields}


def _write(tmp_path: Path, document: Any, name: str = "in.json") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize(("content", "message", "hint"), [
    ("{not json", "not valid JSON (line 1, column 2)", "exported by Hearth"),
    ("", "not valid JSON", "exported by Hearth"),
    (json.dumps({"format": "something-else", "version": 1}), "not a Hearth export",
     "exported by Hearth"),
    (json.dumps(_document(version=2)), "newer version of Hearth", "Update Hearth"),
    (json.dumps(_document(version="1")), "no valid format version", "exported by Hearth"),
    (json.dumps({"format": FORMAT, "version": 1, "conversations": {}}),
     "no list of conversations", "exported by Hearth"),
    ("[]", "not a Hearth export", "exported by Hearth"),
    (json.dumps([{"title": "a", "mapping": {}}]), "looks like a ChatGPT export",
     "Import ChatGPT export"),
])
def test_a_file_that_is_not_a_hearth_export_is_refused(history: History, tmp_path: Path,
                                                       content: str, message: str,
                                                       hint: str) -> None:
    with pytest.raises(HistoryImportError) as error:
        import_json(history, _write(tmp_path, content))
    assert message in error.value.message and hint in error.value.hint
    assert history.conversations() == []


def test_a_missing_or_binary_file_is_refused(history: History, tmp_path: Path) -> None:
    with pytest.raises(HistoryImportError, match="does not exist"):
        import_json(history, tmp_path / "nowhere.json")
    (tmp_path / "photo.json").write_bytes(b"\xff\xd8\xff\xe0 JFIF")
    with pytest.raises(HistoryImportError, match="not a text file"):
        import_json(history, tmp_path / "photo.json")


@pytest.mark.parametrize(("bad", "reason"), [
    ("not an object", "it is not an object"),
    (_conversation("Lost parent", _msg(1, None), _msg(2, 7, "assistant")),
     "message 2 answers message 7, which is not there"),
    (_conversation("Loop", _msg(1, 2), _msg(2, 1, "assistant")), "loop"),
    (_conversation("Twice", _msg(1, None), _msg(1, None)), "appears twice"),
    (_conversation("Robot", _msg(1, None, "robot")), "role 'robot'"),
    (_conversation("Bad date", _msg(1, None, created_at="yesterday")),
     "'created_at' is not a date"),
    (_conversation("Bad stats", _msg(1, None, "assistant", completion_tokens="many")),
     "'completion_tokens' should be a whole number"),
    (_conversation("No text", {"id": 1, "parent_id": None, "role": "user"}),
     "has no content"),
    (_conversation("Bad leaf", _msg(1, None), active_leaf=5), "active message 5"),
    (_conversation("Bad status", _msg(1, None, status="sleeping")), "status 'sleeping'"),
])
def test_a_malformed_chat_is_skipped_and_the_others_imported(
        history: History, tmp_path: Path, bad: Any, reason: str) -> None:
    good = _conversation("Good", _msg(1, None), _msg(2, 1, "assistant"))
    later = _conversation("Later", _msg("a", None))
    result = import_json(history, _write(tmp_path, _document(good, bad, later)))
    assert (result.conversations, result.messages) == (2, 3)
    assert len(result.skipped) == 1 and "chat 2 in the file" in result.skipped[0]
    assert reason in result.skipped[0]
    assert sorted(c.title for c in history.conversations()) == ["Good", "Later"]
    with history.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 3


def test_a_failure_while_storing_leaves_nothing_of_that_chat(
        history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chats = [_conversation(name, _msg(1, None), _msg(2, 1, "assistant"))
             for name in ("First", "Second", "Third")]
    real_update = import_tree.update
    calls = []

    def failing_update(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:   # the second chat: its rows are written, then this fails
            raise RuntimeError("a bug while linking replies")
        return real_update(*args)

    monkeypatch.setattr(import_tree, "update", failing_update)
    with pytest.raises(RuntimeError):
        import_json(history, _write(tmp_path, _document(*chats)))
    assert [c.title for c in history.conversations()] == ["First"]
    with history.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 2


def test_import_keeps_sibling_order_and_fixes_what_cannot_be_true(history: History,
                                                                  tmp_path: Path) -> None:
    # Children listed before their parents, string ids, a reply that was still streaming,
    # and a setting this version does not know.
    chat = _conversation(
        "Odd but valid",
        _msg("b2", "a", "assistant", content="second version", status="streaming"),
        _msg("b1", "a", "assistant", content="first version"),
        _msg("a", None, content="question"),
        active_leaf="b2", settings={"temperature": 0.5, "warp_drive": True})
    result = import_json(history, _write(tmp_path, _document(chat)))
    assert result.conversations == 1 and result.messages == 3
    assert result.skipped == ["“Odd but valid” (chat 1 in the file): setting 'warp_drive' "
                              "was left out: 'warp_drive' cannot be set per conversation."]
    conversation = history.conversations()[0]
    assert history.conversation_settings(conversation.id) == {"temperature": 0.5}
    path = history.messages(conversation.id)
    assert [(m.content, m.status) for m in path] == [
        ("question", MessageStatus.COMPLETE), ("second version", MessageStatus.INTERRUPTED)]
    assert path[0].id < path[1].id                       # parents get the smaller ids
    assert path[1].sibling_ids.index(path[1].id) == 0    # siblings keep the file's order


def test_importing_twice_adds_copies(history: History, tmp_path: Path) -> None:
    _build(history)
    exported = tmp_path / "chats.json"
    export_json(history, None, exported)
    import_json(history, exported)
    assert history.conversation_count() == 4


def _three_long_chats(tmp_path: Path) -> Path:
    source = _fresh_history(tmp_path, "source")
    for n in range(3):
        chat = source.create_conversation(model_path=MODEL)
        source.add_message(chat.id, "user", f"chat {n}: " + "many words " * 10_000)
    path = tmp_path / "three.json"
    export_json(source, None, path)
    return path


def _first_store_then(monkeypatch: pytest.MonkeyPatch, sql: str) -> None:
    """Store the first chat; run ``sql`` in the transaction of each later one, then store it."""
    store, stored = importing.store_conversation, []

    def storing(session: Session, conversation: Any) -> None:
        if stored:
            session.connection().exec_driver_sql(sql)
        store(session, conversation)
        stored.append(conversation)

    monkeypatch.setattr(importing, "store_conversation", storing)


def test_a_full_disk_during_an_import_is_a_known_error(history: History, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    source = _three_long_chats(tmp_path)
    _first_store_then(monkeypatch, "PRAGMA max_page_count = 1")  # SQLite's own SQLITE_FULL
    with pytest.raises(HistoryImportError, match="stopped after 1 chats") as error:
        import_json(history, source)
    assert "database or disk is full" in error.value.message
    assert "Free some disk space" in error.value.hint
    assert len(history.conversations()) == 1                 # the first chat, complete


@pytest.mark.parametrize(("sql", "bug"), [
    ("SELECT no_such_column FROM conversations", sqlalchemy.exc.OperationalError),
    ("SELECT ?", sqlalchemy.exc.ProgrammingError),           # a parameter missing
])
def test_a_bug_in_our_sql_during_an_import_is_never_blamed_on_the_disk(
        history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sql: str,
        bug: type[Exception]) -> None:
    source = _three_long_chats(tmp_path)
    _first_store_then(monkeypatch, sql)
    with pytest.raises(bug) as error:                        # reaches the crash dialog
        import_json(history, source)
    assert not isinstance(error.value, HistoryImportError)
    assert len(history.conversations()) == 1
