"""A conversation read from an import file, checked and ready to store in one transaction.

Readers of each file format (Hearth JSON, ChatGPT export) turn their input into an
``ImportedConversation``: messages keyed by the file's own ids, each naming its parent's
key. ``store_conversation`` gives them new database ids, parents before children.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from app.storage.export import FLOAT_STATS, INT_STATS, TEXT_STATS, utc
from app.storage.schema import Conversation, Message, MessageStatus

ROLES = ("user", "assistant", "system")
STAT_COLUMNS = INT_STATS + FLOAT_STATS + TEXT_STATS


class MalformedConversation(Exception):
    """One conversation of an import file cannot be imported; the others still can."""


@dataclass
class ImportedMessage:
    """One message of an import file; ``key``/``parent_key`` are the file's ids."""

    key: Hashable
    parent_key: Hashable | None
    role: str
    content: str
    created_at: datetime
    updated_at: datetime
    status: str = MessageStatus.COMPLETE
    error: str | None = None
    model_path: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)   # STAT_COLUMNS by name


@dataclass
class ImportedConversation:
    """One conversation of an import file, every branch included.

    ``messages`` are in the order their new ids should follow where the tree allows
    (siblings keep it, so "version 1 of 2" stays version 1).
    """

    title: str
    created_at: datetime
    updated_at: datetime
    messages: list[ImportedMessage]
    active_leaf_key: Hashable | None
    model_path: str | None = None
    pinned: bool = False
    settings: dict[str, Any] = field(default_factory=dict)


def insertion_order(messages: list[ImportedMessage]) -> list[ImportedMessage]:
    """The messages with every parent before its children, otherwise in their given order.

    Raises MalformedConversation for a repeated id, a parent that is not in the
    conversation, or parents that form a loop.
    """
    index: dict[Hashable, int] = {}
    for position, message in enumerate(messages):
        if message.key in index:
            raise MalformedConversation(f"message id {message.key!r} appears twice")
        index[message.key] = position
    children: dict[int | None, list[int]] = {}
    for position, message in enumerate(messages):
        if message.parent_key is not None and message.parent_key not in index:
            raise MalformedConversation(f"message {message.key!r} answers message "
                                        f"{message.parent_key!r}, which is not there")
        parent = None if message.parent_key is None else index[message.parent_key]
        children.setdefault(parent, []).append(position)
    ready = list(children.get(None, []))
    heapq.heapify(ready)
    ordered = []
    while ready:
        position = heapq.heappop(ready)
        ordered.append(messages[position])
        for child in children.get(position, []):
            heapq.heappush(ready, child)
    if len(ordered) != len(messages):
        raise MalformedConversation("its messages answer each other in a loop")
    return ordered


def store_conversation(session: Session, conversation: ImportedConversation) -> int:
    """Add one conversation and its messages inside ``session``'s transaction; return the
    new conversation's id."""
    ordered = insertion_order(conversation.messages)
    if (conversation.active_leaf_key is not None
            and all(m.key != conversation.active_leaf_key for m in ordered)):
        raise MalformedConversation(f"its active message {conversation.active_leaf_key!r} "
                                    "is not among its messages")
    row = Conversation(title=conversation.title, created_at=utc(conversation.created_at),
                       updated_at=utc(conversation.updated_at),
                       model_path=conversation.model_path, pinned=conversation.pinned,
                       settings=dict(conversation.settings))
    session.add(row)
    session.flush()
    new_ids: dict[Hashable, int] = {}
    if ordered:
        values = [{"conversation_id": row.id, "parent_id": None, "role": m.role,
                   "content": m.content, "status": m.status, "error": m.error,
                   "model_path": m.model_path, "created_at": utc(m.created_at),
                   "updated_at": utc(m.updated_at),
                   **{name: m.stats.get(name) for name in STAT_COLUMNS}} for m in ordered]
        # One executemany; SQLite gives a new conversation's rows ascending ids in the
        # order inserted (this transaction holds the write lock), so they are read back
        # in order. Parents are linked in a second statement, once every row has its id.
        session.connection().execute(insert(cast(Table, Message.__table__)), values)
        ids = session.scalars(select(Message.id).where(Message.conversation_id == row.id)
                              .order_by(Message.id)).all()
        new_ids = {m.key: new_id for m, new_id in zip(ordered, ids, strict=True)}
        links = [{"id": new_ids[m.key], "parent_id": new_ids[m.parent_key]}
                 for m in ordered if m.parent_key is not None]
        if links:
            session.execute(update(Message), links)
    if conversation.active_leaf_key is not None:
        row.active_leaf_id = new_ids[conversation.active_leaf_key]
    session.flush()
    return row.id
