"""Importing a ChatGPT data export: branches and the shown branch kept, hidden and tool
messages left out without breaking the tree, clear errors for files that are not one."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.core.paths import Paths
from app.storage.database import open_database
from app.storage.export import FORMAT, history_document
from app.storage.history import History
from app.storage.importing import HistoryImportError, import_chatgpt
from app.storage.schema import MessageStatus

T0 = 1714550400.0   # 2024-05-01 08:00 UTC


@pytest.fixture
def history(paths: Paths) -> History:
    return History(open_database(paths.database_path))


def _node(node_id: str, parent: str | None, children: list[str], role: str | None = None,
          parts: list[Any] | None = None, at: float | None = None, *,
          content: dict[str, Any] | None = None, **message: Any) -> dict[str, Any]:
    """One entry of a conversation's ``mapping``, shaped like ChatGPT writes it."""
    if role is None:
        return {"id": node_id, "message": None, "parent": parent, "children": children}
    metadata = message.pop("metadata", {})
    return {"id": node_id, "parent": parent, "children": children, "message": {
        "id": node_id, "author": {"role": role, "name": None, "metadata": {}},
        "create_time": at, "update_time": None,
        "content": content or {"content_type": "text", "parts": parts or [""]},
        "status": "finished_successfully", "end_turn": True, "weight": 1.0,
        "metadata": metadata, "recipient": message.pop("recipient", "all"), **message}}


def _gpt(slug: str, finish: str = "stop") -> dict[str, Any]:
    return {"model_slug": slug, "finish_details": {"type": finish, "stop_tokens": [200002]}}


def _conversation(title: str | None, nodes: list[dict[str, Any]], current: str,
                  **fields: Any) -> dict[str, Any]:
    return {"title": title, "create_time": T0, "update_time": T0 + 600,
            "mapping": {node["id"]: node for node in nodes}, "moderation_results": [],
            "current_node": current, "plugin_ids": None, "conversation_id": f"c-{current}",
            "gizmo_id": None, "is_archived": False, "safe_urls": [], "id": f"c-{current}",
            **fields}


def _lisbon() -> dict[str, Any]:
    """A first question edited once, a picture, and a tool call before the final answer."""
    image = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-9x",
             "size_bytes": 183_204, "width": 1024, "height": 768, "metadata": None}
    return _conversation("Lisbon trip", [
        _node("root", None, ["sys"]),
        _node("sys", "root", ["ctx"], "system", [""],
              metadata={"is_visually_hidden_from_conversation": True}),
        _node("ctx", "sys", ["u1", "u1b"], "user", content={
            "content_type": "user_editable_context", "user_profile": "I like trams.",
            "user_instructions": "Be concise."}),
        _node("u1", "ctx", ["a1"], "user", ["Plan 3 days in Lisbon."], T0 + 10),
        _node("a1", "u1", [], "assistant", ["Day 1: Alfama.", "Day 2: Belém."], T0 + 12,
              metadata=_gpt("gpt-4o")),
        _node("u1b", "ctx", ["a1b"], "user", ["Plan 2 days in Lisbon."], T0 + 60),
        _node("a1b", "u1b", ["u2"], "assistant", ["Day 1: Alfama. Day 2: Sintra."], T0 + 62,
              metadata=_gpt("gpt-4o", "max_tokens")),
        _node("u2", "a1b", ["call"], "user", [image, "What is this building?"], T0 + 120,
              content={"content_type": "multimodal_text",
                       "parts": [image, "What is this building?"]}),
        _node("call", "u2", ["out"], "assistant", at=T0 + 121, recipient="python",
              content={"content_type": "code", "language": "unknown", "text": "print(1)"}),
        _node("out", "call", ["a2"], "tool", at=T0 + 122, content={
            "content_type": "execution_output", "text": "1"}),
        _node("a2", "out", [], "assistant", ["That is the Belém Tower."], T0 + 125,
              metadata=_gpt("gpt-4o")),
    ], current="a2", default_model_slug="gpt-4o")


def _haiku() -> dict[str, Any]:
    """No title, a regenerated answer, and the first answer is the one shown."""
    return _conversation(None, [
        _node("r", None, ["q"]),
        _node("q", "r", ["h1", "h2"], "user", ["Write a haiku about rain."], T0 + 1000),
        _node("h1", "q", [], "assistant", ["Soft rain on the roof"], T0 + 1002,
              metadata=_gpt("gpt-4")),
        _node("h2", "q", [], "assistant", ["Grey clouds, wet stones"], T0 + 1050,
              metadata=_gpt("gpt-4", "interrupted")),
    ], current="h1")


def _write(tmp_path: Path, data: Any, name: str = "conversations.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _tree(history: History) -> dict[str, dict[str, Any]]:
    return {c["title"]: c for c in history_document(history, None)["conversations"]}


def _content_of(conversation: dict[str, Any], message_id: int | None) -> str | None:
    return next((m["content"] for m in conversation["messages"] if m["id"] == message_id),
                None)


def test_branches_and_the_shown_branch_are_kept(history: History, tmp_path: Path) -> None:
    result = import_chatgpt(history, _write(tmp_path, [_lisbon(), _haiku()]))
    assert (result.conversations, result.messages, result.skipped) == (2, 9, [])

    lisbon = _tree(history)["Lisbon trip"]
    by_content = {m["content"]: m for m in lisbon["messages"]}
    assert list(by_content) == [           # oldest first; hidden and tool messages left out
        "Plan 3 days in Lisbon.", "Day 1: Alfama.\nDay 2: Belém.", "Plan 2 days in Lisbon.",
        "Day 1: Alfama. Day 2: Sintra.", "[image]\nWhat is this building?",
        "That is the Belém Tower."]
    parent = {m["content"]: _content_of(lisbon, m["parent_id"]) for m in lisbon["messages"]}
    assert parent == {                     # the edited question is a second version
        "Plan 3 days in Lisbon.": None, "Plan 2 days in Lisbon.": None,
        "Day 1: Alfama.\nDay 2: Belém.": "Plan 3 days in Lisbon.",
        "Day 1: Alfama. Day 2: Sintra.": "Plan 2 days in Lisbon.",
        "[image]\nWhat is this building?": "Day 1: Alfama. Day 2: Sintra.",
        "That is the Belém Tower.": "[image]\nWhat is this building?"}   # past the tool call
    conversation = next(c for c in history.conversations() if c.title == "Lisbon trip")
    assert conversation.model_path == "chatgpt:gpt-4o"
    path = history.messages(conversation.id)
    assert [(m.role, m.content[:14]) for m in path] == [
        ("user", "Plan 2 days in"), ("assistant", "Day 1: Alfama."),
        ("user", "[image]\nWhat i"), ("assistant", "That is the Be")]
    assert path[0].sibling_ids.index(path[0].id) == 1 and len(path[0].sibling_ids) == 2
    assert path[1].model_path == "chatgpt:gpt-4o" and path[1].stop_reason == "length"
    assert path[0].created_at == datetime.fromtimestamp(T0 + 60, UTC).replace(
        tzinfo=None)
    assert lisbon["created_at"] == "2024-05-01T08:00:00+00:00"
    assert lisbon["updated_at"] == "2024-05-01T08:10:00+00:00"


def test_current_node_is_honoured_and_a_missing_title_is_made(history: History,
                                                              tmp_path: Path) -> None:
    import_chatgpt(history, _write(tmp_path, [_haiku()]))
    conversation = history.conversations()[0]
    assert conversation.title == "Write a haiku about rain."
    path = history.messages(conversation.id)
    assert [m.content for m in path] == ["Write a haiku about rain.", "Soft rain on the roof"]
    assert path[1].sibling_ids.index(path[1].id) == 0 and len(path[1].sibling_ids) == 2
    history.switch_to(path[1].sibling_ids[1])
    stopped = history.messages(conversation.id)[1]
    assert (stopped.content, stopped.status, stopped.stop_reason) == (
        "Grey clouds, wet stones", MessageStatus.STOPPED, "stopped")


def test_a_bad_conversation_is_skipped_and_the_others_imported(history: History,
                                                               tmp_path: Path) -> None:
    only_system = _conversation("Only a system prompt", [
        _node("r", None, ["s"]), _node("s", "r", [], "system", ["You are ChatGPT."])],
        current="s")
    looped = _conversation("Looped", [
        _node("x", "y", ["y"], "user", ["x"], T0), _node("y", "x", ["x"], "assistant", ["y"])],
        current="y")
    no_time = _conversation("No times", [
        _node("q", None, ["a"], "user", ["When?"]), _node("a", "q", [], "assistant", ["Now."])],
        current="a", create_time=None, update_time=None)
    entries = [_lisbon(), {"title": "Broken", "mapping": "oops"}, 42, only_system, looped,
               no_time]
    result = import_chatgpt(history, _write(tmp_path, entries))
    assert result.conversations == 2
    assert result.skipped == [
        "“Broken” (chat 2 in the file): it has no 'mapping' of messages",
        "chat 3 in the file: it is not an object",
        "“Only a system prompt” (chat 4 in the file): it has no messages with text",
        "“Looped” (chat 5 in the file): its messages answer each other in a loop"]
    titles = {c.title: c.id for c in history.conversations()}
    assert set(titles) == {"Lisbon trip", "No times"}
    assert [m.content for m in history.messages(titles["No times"])] == ["When?", "Now."]


def test_the_export_zip_can_be_chosen_directly(history: History, tmp_path: Path) -> None:
    archive = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("chat.html", "<html></html>")
        zipped.writestr("conversations.json", json.dumps([_haiku()]))
    assert import_chatgpt(history, archive).conversations == 1
    empty = tmp_path / "other.zip"
    with zipfile.ZipFile(empty, "w") as zipped:
        zipped.writestr("notes.txt", "hello")
    with pytest.raises(HistoryImportError, match="has no conversations.json") as error:
        import_chatgpt(history, empty)
    assert "ChatGPT data export" in error.value.hint


@pytest.mark.parametrize(("content", "message", "hint"), [
    ('[{"title": "Lisbon", "mapping": {', "not valid JSON", "conversations.json"),
    (json.dumps({"conversations": []}), "should hold a list of conversations",
     "Export data"),
    (json.dumps({"format": FORMAT, "version": 1, "conversations": []}),
     "is a Hearth export", "Import Hearth JSON"),
])
def test_a_file_that_is_not_a_chatgpt_export_is_refused(history: History, tmp_path: Path,
                                                        content: str, message: str,
                                                        hint: str) -> None:
    with pytest.raises(HistoryImportError) as error:
        import_chatgpt(history, _write(tmp_path, content))
    assert message in error.value.message and hint in error.value.hint
    assert history.conversations() == []
