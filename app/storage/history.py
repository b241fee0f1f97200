"""Reading and writing conversations and messages."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, false, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.core.protocol import ReplyStats
from app.storage.schema import Conversation, Message, MessageStatus, utcnow

log = logging.getLogger(__name__)
DEFAULT_TITLE = "New chat"
_TITLE_CHARS = 60


@dataclass(frozen=True)
class ConversationInfo:
    """A conversation as lists show it."""

    id: int
    title: str
    updated_at: datetime
    model_path: str | None
    pinned: bool = False
    cache_key: str = ""   # names the engine's saved state of this chat (never reused)


@dataclass(frozen=True)
class StoredMessage:
    """A message as read from the database (with its place among its siblings)."""

    id: int
    conversation_id: int
    role: str
    content: str
    status: str
    parent_id: int | None = None
    error: str | None = None
    model_path: str | None = None
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    context_used: int | None = None
    n_ctx: int | None = None
    completion_tokens: int | None = None
    ttft_s: float | None = None
    tokens_per_second: float | None = None
    stop_reason: str | None = None
    n_threads: int | None = None
    created_at: datetime | None = None
    sibling_ids: tuple[int, ...] = ()   # versions of this message (same parent), oldest first

    @classmethod
    def from_row(cls, row: Message, sibling_ids: tuple[int, ...] = ()) -> StoredMessage:
        """Copy a row so that it can leave its session."""
        return cls(id=row.id, conversation_id=row.conversation_id, role=row.role,
                   content=row.content, status=row.status, parent_id=row.parent_id,
                   error=row.error, model_path=row.model_path,
                   prompt_tokens=row.prompt_tokens, cached_tokens=row.cached_tokens,
                   context_used=row.context_used, n_ctx=row.n_ctx,
                   completion_tokens=row.completion_tokens, ttft_s=row.ttft_s,
                   tokens_per_second=row.tokens_per_second, stop_reason=row.stop_reason,
                   n_threads=row.n_threads, created_at=row.created_at,
                   sibling_ids=sibling_ids or (row.id,))


def _info(row: Conversation) -> ConversationInfo:
    return ConversationInfo(id=row.id, title=row.title, updated_at=row.updated_at,
                            model_path=row.model_path, pinned=bool(row.pinned),
                            cache_key=row.cache_key or "")


def title_from(text: str) -> str:
    """A conversation title from the first words of its first message."""
    words = " ".join(text.split())
    if len(words) <= _TITLE_CHARS:
        return words or DEFAULT_TITLE
    return words[:_TITLE_CHARS].rsplit(" ", 1)[0] + "…"


ACTIVE_LEAF: Any = object()  # add_message's default parent: the end of the active path

class History:
    """The conversation history: every method is one short transaction.

    All calls come from one thread (the GUI thread, or the self-test's main thread).
    Conversations branch: every message knows its parent; a conversation remembers the last
    message of its active path, which is what is shown and what the model sees.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._checkpoint_owed = False

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The session factory, for storage modules that query beyond this class."""
        return self._sessions

    def create_conversation(self, model_path: str | None = None,
                            title: str = DEFAULT_TITLE) -> ConversationInfo:
        """Start a new, empty conversation."""
        with self._sessions.begin() as session:
            row = Conversation(title=title, model_path=model_path)
            session.add(row)
            session.flush()
            return _info(row)

    def conversations(self, limit: int | None = None, offset: int = 0
                      ) -> list[ConversationInfo]:
        """Conversations not deleted: pinned first, then most recently active first."""
        with self._sessions() as session:
            query = (select(Conversation).where(Conversation.deleted_at.is_(None))
                     .order_by(Conversation.pinned.desc(), Conversation.updated_at.desc(),
                               Conversation.id.desc()).offset(offset).limit(limit))
            return [_info(row) for row in session.scalars(query)]

    def conversation_count(self) -> int:
        """How many conversations the list shows."""
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(Conversation).where(
                Conversation.deleted_at.is_(None))) or 0

    def conversation(self, conversation_id: int) -> ConversationInfo | None:
        """One conversation, or None if it does not exist (or is deleted)."""
        with self._sessions() as session:
            row = session.get(Conversation, conversation_id)
            return _info(row) if row and row.deleted_at is None else None

    def rename(self, conversation_id: int, title: str) -> None:
        """Give a conversation a new title."""
        self._update_conversation(conversation_id, title=" ".join(title.split())[:200]
                                  or DEFAULT_TITLE)

    def set_pinned(self, conversation_id: int, pinned: bool) -> None:
        """Pin a conversation to the top of the list, or unpin it."""
        self._update_conversation(conversation_id, pinned=pinned)

    def set_conversation_model(self, conversation_id: int, model_path: str) -> None:
        """Make ``model_path`` the model this conversation's next replies use."""
        self._update_conversation(conversation_id, model_path=model_path)

    def conversation_settings(self, conversation_id: int) -> dict[str, Any]:
        """The settings this conversation overrides ({} if none, or no such conversation)."""
        with self._sessions() as session:
            row = session.get(Conversation, conversation_id)
            return dict(row.settings or {}) if row else {}

    def set_conversation_settings(self, conversation_id: int, values: dict[str, Any]) -> None:
        """Replace the settings this conversation overrides (validate them first)."""
        self._update_conversation(conversation_id, settings=dict(values))

    def _update_conversation(self, conversation_id: int, **values: Any) -> None:
        with self._sessions.begin() as session:
            session.execute(update(Conversation).where(Conversation.id == conversation_id)
                            .values(**values))

    def delete_conversation(self, conversation_id: int) -> None:
        """Hide a conversation; ``restore_conversation`` undoes it until ``purge_deleted``."""
        self._update_conversation(conversation_id, deleted_at=utcnow())

    def restore_conversation(self, conversation_id: int) -> None:
        """Undo ``delete_conversation``."""
        self._update_conversation(conversation_id, deleted_at=None)

    def delete_all(self) -> None:
        """Hide every conversation (undoable until ``purge_deleted``)."""
        with self._sessions.begin() as session:
            session.execute(update(Conversation).where(Conversation.deleted_at.is_(None))
                            .values(deleted_at=utcnow()))

    def deleted_cache_keys(self) -> list[str]:
        """Cache keys of the deleted conversations that ``purge_deleted`` will remove."""
        with self._sessions() as session:
            return [key for key in session.scalars(
                select(Conversation.cache_key).where(Conversation.deleted_at.is_not(None)))
                if key]

    def purge_deleted(self) -> int:
        """Remove deleted conversations from disk for good; return how many.

        ``secure_delete`` zeroes the freed pages, the search index is rebuilt without the
        deleted text ('optimize' merges away its tombstones), and a WAL checkpoint that
        truncates the log leaves no old copy of the pages behind.
        """
        with self._sessions.begin() as session:
            deleted = cast(CursorResult[Any], session.execute(delete(Conversation).where(
                Conversation.deleted_at.is_not(None))))
            gone = deleted.rowcount or 0
            if gone:
                session.execute(text("INSERT INTO messages_fts(messages_fts) "
                                     "VALUES ('optimize')"))
        if gone or self._checkpoint_owed:
            with self._sessions() as session:
                busy, log_pages, copied = session.connection().exec_driver_sql(
                    "PRAGMA wal_checkpoint(TRUNCATE)").one()
            # Another reader kept old pages alive: try again at the next purge (or exit).
            self._checkpoint_owed = bool(busy) or log_pages != copied
            if self._checkpoint_owed:
                log.info("WAL checkpoint deferred: another connection is reading")
        return gone

    def path_ids(self, conversation_id: int) -> list[int]:
        """Ids of the active path's messages, first to last.

        The conversation's whole tree comes from one covering index (a few dense pages even
        for thousands of messages) and is walked here, from the leaf up.
        """
        with self._sessions() as session:
            leaf = session.scalar(select(Conversation.active_leaf_id).where(
                Conversation.id == conversation_id))
            if leaf is None:
                return []
            parents = _tree(session, conversation_id)
        path: list[int] = []
        node: int | None = leaf
        while node is not None and node in parents and len(path) <= len(parents):
            path.append(node)
            node = parents[node]
        path.reverse()
        return path

    def messages_by_id(self, ids: list[int]) -> list[StoredMessage]:
        """These messages in this order, each with its sibling versions."""
        if not ids:
            return []
        with self._sessions() as session:
            rows = {row.id: row for row in session.scalars(
                select(Message).where(Message.id.in_(ids)))}
            conversation = rows[ids[0]].conversation_id
            parents = {row.parent_id for row in rows.values()}
            siblings: dict[int | None, list[int]] = {}
            query = select(Message.id, Message.parent_id).where(
                Message.conversation_id == conversation).where(
                Message.parent_id.in_([p for p in parents if p is not None])
                | (Message.parent_id.is_(None) if None in parents else false())
            ).order_by(Message.id)
            for message_id, parent_id in session.execute(query):
                siblings.setdefault(parent_id, []).append(message_id)
            return [StoredMessage.from_row(rows[i], tuple(siblings.get(rows[i].parent_id, ())))
                    for i in ids if i in rows]

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        """The messages of the active path, in order."""
        return self.messages_by_id(self.path_ids(conversation_id))

    def message_count(self, conversation_id: int) -> int:
        """How many messages a conversation has, in all branches."""
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(Message).where(
                Message.conversation_id == conversation_id)) or 0

    def add_message(self, conversation_id: int, role: str, content: str, *,
                    status: str = MessageStatus.COMPLETE, model_path: str | None = None,
                    parent_id: int | None = ACTIVE_LEAF) -> StoredMessage:
        """Add a message after ``parent_id`` (default: the end of the active path) and make
        it the end of the active path; committed before this returns."""
        now = utcnow()
        with self._sessions.begin() as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None:
                raise LookupError(f"conversation {conversation_id} does not exist")
            if parent_id is ACTIVE_LEAF:
                parent_id = conversation.active_leaf_id
            row = Message(conversation_id=conversation_id, role=role, content=content,
                          status=status, model_path=model_path, parent_id=parent_id,
                          created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            conversation.active_leaf_id = row.id
            conversation.updated_at = now  # (its model is the user's choice, not set here)
            if role == "user" and conversation.title == DEFAULT_TITLE:
                conversation.title = title_from(content)
            return StoredMessage.from_row(row)

    def switch_to(self, message_id: int) -> None:
        """Show the branch through ``message_id``, following its newest replies to the end."""
        with self._sessions.begin() as session:
            row = session.get(Message, message_id)
            if row is None:
                raise LookupError(f"message {message_id} does not exist")
            newest: dict[int, int] = {}  # each message's newest reply (its largest id)
            for child, parent in _tree(session, row.conversation_id).items():
                if parent is not None and child > newest.get(parent, -1):
                    newest[parent] = child
            leaf = row.id
            while leaf in newest:
                leaf = newest[leaf]
            session.execute(update(Conversation).where(
                Conversation.id == row.conversation_id).values(active_leaf_id=leaf))

    def set_active_leaf(self, conversation_id: int, message_id: int) -> None:
        """End the active path at ``message_id`` (e.g. to give a message a new reply)."""
        self._update_conversation(conversation_id, active_leaf_id=message_id)

    def save_text(self, message_id: int, content: str) -> None:
        """Overwrite the text of a message that is still streaming."""
        with self._sessions.begin() as session:
            session.execute(update(Message).where(Message.id == message_id)
                            .values(content=content, updated_at=utcnow()))

    def finish_message(self, message_id: int, content: str, status: str,
                       stats: ReplyStats | None = None, error: str | None = None,
                       stop_reason: str | None = None) -> None:
        """Store the final text, status and statistics of a reply."""
        values: dict[str, object] = {"content": content, "status": status, "error": error,
                                     "updated_at": utcnow()}
        if stop_reason is not None:
            values["stop_reason"] = stop_reason
        if stats is not None:
            values.update(prompt_tokens=stats.prompt_tokens, cached_tokens=stats.cached_tokens,
                          context_used=stats.context_used, n_ctx=stats.n_ctx,
                          completion_tokens=stats.completion_tokens, ttft_s=stats.ttft_s,
                          tokens_per_second=stats.tokens_per_second,
                          stop_reason=stats.stop_reason, n_threads=stats.n_threads or None)
        with self._sessions.begin() as session:
            session.execute(update(Message).where(Message.id == message_id).values(**values))

    def recover_interrupted(self) -> int:
        """Mark replies left streaming by a crash as interrupted; return how many."""
        with self._sessions.begin() as session:
            result = cast(CursorResult[Any], session.execute(
                update(Message).where(Message.status == MessageStatus.STREAMING)
                .values(status=MessageStatus.INTERRUPTED)))
            return result.rowcount or 0


def _tree(session: Session, conversation_id: int) -> dict[int, int | None]:
    """Every message of a conversation with its parent, read from one covering index."""
    return dict(session.execute(select(Message.id, Message.parent_id).where(
        Message.conversation_id == conversation_id)).all())
