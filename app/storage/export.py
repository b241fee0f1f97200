"""Exporting conversations: JSON (complete, can be imported again) and Markdown (to read).

The JSON document (``FORMAT``, ``VERSION``) holds every field of every exported
conversation and every message of every branch; ``app.storage.importing`` restores it.
The Markdown file shows only the active path of each conversation, the way the window does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.atomic_file import write_text_atomically
from app.core.errors import HearthError
from app.core.stats_text import describe_stats
from app.storage.history import History, StoredMessage
from app.storage.schema import Conversation, Message, MessageStatus

FORMAT = "hearth-history"
VERSION = 1

# Statistics columns of a message, by the JSON type they have when not null.
INT_STATS = ("prompt_tokens", "cached_tokens", "context_used", "n_ctx", "completion_tokens",
             "n_threads")
FLOAT_STATS = ("ttft_s", "tokens_per_second")
TEXT_STATS = ("stop_reason",)


class HistoryExportError(HearthError):
    """Conversations could not be exported (the file cannot be written, a chat is gone)."""


def utc(value: datetime) -> datetime:
    """``value`` in UTC (a naive time is taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """A stored timestamp as ISO 8601 in UTC (SQLite gives them back without a zone)."""
    return None if value is None else utc(value).isoformat()


def _conversation_rows(session: Session, conversation_ids: list[int] | None
                       ) -> Iterator[Conversation]:
    if conversation_ids is None:
        yield from session.scalars(select(Conversation).where(
            Conversation.deleted_at.is_(None)).order_by(Conversation.id))
        return
    for conversation_id in dict.fromkeys(conversation_ids):
        row = session.get(Conversation, conversation_id)
        if row is None:
            raise HistoryExportError(f"Chat {conversation_id} no longer exists.",
                                     "It may have been deleted for good; export the others.")
        yield row


def _message_record(row: Message) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": row.id, "parent_id": row.parent_id, "role": row.role, "content": row.content,
        "status": row.status, "error": row.error, "model_path": row.model_path,
        "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}
    for name in INT_STATS + FLOAT_STATS + TEXT_STATS:
        record[name] = getattr(row, name)
    return record


def _conversation_record(session: Session, row: Conversation) -> dict[str, Any]:
    messages = session.scalars(select(Message).where(Message.conversation_id == row.id)
                               .order_by(Message.id))
    return {"source_id": row.id, "title": row.title, "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at), "model_path": row.model_path,
            "pinned": bool(row.pinned), "settings": dict(row.settings or {}),
            "active_leaf": row.active_leaf_id,
            "messages": [_message_record(message) for message in messages]}


def history_document(history: History, conversation_ids: list[int] | None) -> dict[str, Any]:
    """The JSON export of these conversations (None: all that are not deleted)."""
    with history.sessions() as session:
        conversations = [_conversation_record(session, row)
                         for row in _conversation_rows(session, conversation_ids)]
    return {"format": FORMAT, "version": VERSION,
            "exported_at": iso(datetime.now(UTC)), "conversations": conversations}


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: a reader sees the old file or the new one."""
    path = Path(path)
    try:
        write_text_atomically(path, text)
    except OSError as exc:
        raise HistoryExportError(f"{path.name} could not be written: "
                                 f"{exc.strerror or exc}.",
                                 "Choose another folder, or free some disk space.") from exc


def export_json(history: History, conversation_ids: list[int] | None, path: Path) -> int:
    """Write these conversations (None: all not deleted) as a Hearth JSON document, with
    every branch, model, setting and statistic; return how many were written."""
    document = history_document(history, conversation_ids)
    write_atomically(path, json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    return len(document["conversations"])


def model_name(model_path: str | None) -> str:
    """A model's short name: its file name without ``.gguf`` (or an imported label)."""
    if not model_path:
        return ""
    name = model_path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return name[:-5] if name.lower().endswith(".gguf") else name


def _stats_line(message: StoredMessage) -> str:
    parts = [text] if (text := describe_stats(message)) else []
    if message.status == MessageStatus.ERROR:
        parts.append(f"error: {message.error}" if message.error else "error")
    elif message.status in (MessageStatus.STOPPED, MessageStatus.INTERRUPTED,
                            MessageStatus.STREAMING):
        parts.append(f"{message.status}, partial")
    if len(message.sibling_ids) > 1:
        parts.append(f"version {message.sibling_ids.index(message.id) + 1} "
                     f"of {len(message.sibling_ids)}")
    return " · ".join(parts)


def _heading(message: StoredMessage) -> str:
    if message.role == "user":
        return "**You**"
    if message.role == "assistant":
        name = model_name(message.model_path)
        return f"**Assistant** ({name})" if name else "**Assistant**"
    return f"**{message.role.capitalize()}**"


def conversation_markdown(history: History, row: Conversation) -> str:
    """One conversation's active path as Markdown."""
    created = (iso(row.created_at) or "")[:16].replace("T", " ")
    lines = [f"# {row.title}", "", f"*{created} UTC*", ""]
    messages = history.messages(row.id)
    if not messages:
        lines += ["*(no messages)*", ""]
    for message in messages:
        lines += [_heading(message), "", message.content, ""]
        if stats := _stats_line(message):
            lines += [f"*{stats}*", ""]
    return "\n".join(lines)


def export_markdown(history: History, conversation_ids: list[int] | None, path: Path) -> int:
    """Write the active path of these conversations (None: all not deleted) as readable
    Markdown; return how many were written."""
    with history.sessions() as session:
        rows = list(_conversation_rows(session, conversation_ids))
    parts = [conversation_markdown(history, row) for row in rows]
    write_atomically(path, "\n---\n\n".join(parts))
    return len(rows)
