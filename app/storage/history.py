"""Reading and writing conversations and messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core.protocol import ReplyStats
from app.storage.schema import Conversation, Message, MessageStatus, utcnow

DEFAULT_TITLE = "New chat"
_TITLE_CHARS = 60


@dataclass(frozen=True)
class ConversationInfo:
    """A conversation as lists show it."""

    id: int
    title: str
    updated_at: datetime
    model_path: str | None


@dataclass(frozen=True)
class StoredMessage:
    """A message as read from the database."""

    id: int
    conversation_id: int
    role: str
    content: str
    status: str
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

    @classmethod
    def from_row(cls, row: Message) -> StoredMessage:
        """Copy a row so that it can leave its session."""
        return cls(id=row.id, conversation_id=row.conversation_id, role=row.role,
                   content=row.content, status=row.status, error=row.error,
                   model_path=row.model_path, prompt_tokens=row.prompt_tokens,
                   cached_tokens=row.cached_tokens, context_used=row.context_used,
                   n_ctx=row.n_ctx,
                   completion_tokens=row.completion_tokens, ttft_s=row.ttft_s,
                   tokens_per_second=row.tokens_per_second, stop_reason=row.stop_reason)


def _info(row: Conversation) -> ConversationInfo:
    return ConversationInfo(id=row.id, title=row.title, updated_at=row.updated_at,
                            model_path=row.model_path)


def title_from(text: str) -> str:
    """A conversation title from the first words of its first message."""
    words = " ".join(text.split())
    if len(words) <= _TITLE_CHARS:
        return words or DEFAULT_TITLE
    return words[:_TITLE_CHARS].rsplit(" ", 1)[0] + "…"


class History:
    """The conversation history: every method is one short transaction.

    All calls come from one thread (the GUI thread, or the self-test's main thread).
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create_conversation(self, model_path: str | None = None,
                            title: str = DEFAULT_TITLE) -> ConversationInfo:
        """Start a new, empty conversation."""
        with self._sessions.begin() as session:
            row = Conversation(title=title, model_path=model_path)
            session.add(row)
            session.flush()
            return _info(row)

    def conversations(self) -> list[ConversationInfo]:
        """All conversations, most recently active first."""
        with self._sessions() as session:
            rows = session.scalars(select(Conversation).order_by(
                Conversation.updated_at.desc(), Conversation.id.desc()))
            return [_info(row) for row in rows]

    def conversation(self, conversation_id: int) -> ConversationInfo | None:
        """One conversation, or None if it does not exist."""
        with self._sessions() as session:
            row = session.get(Conversation, conversation_id)
            return _info(row) if row else None

    def rename(self, conversation_id: int, title: str) -> None:
        """Give a conversation a new title."""
        with self._sessions.begin() as session:
            session.execute(update(Conversation).where(Conversation.id == conversation_id)
                            .values(title=title.strip() or DEFAULT_TITLE))

    def conversation_settings(self, conversation_id: int) -> dict[str, Any]:
        """The settings this conversation overrides ({} if none, or no such conversation)."""
        with self._sessions() as session:
            row = session.get(Conversation, conversation_id)
            return dict(row.settings or {}) if row else {}

    def set_conversation_settings(self, conversation_id: int, values: dict[str, Any]) -> None:
        """Replace the settings this conversation overrides (validate them first)."""
        with self._sessions.begin() as session:
            session.execute(update(Conversation).where(Conversation.id == conversation_id)
                            .values(settings=dict(values)))

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation and all its messages."""
        with self._sessions.begin() as session:
            session.execute(delete(Conversation).where(Conversation.id == conversation_id))

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        """The messages of a conversation in order."""
        with self._sessions() as session:
            rows = session.scalars(select(Message).where(
                Message.conversation_id == conversation_id).order_by(Message.id))
            return [StoredMessage.from_row(row) for row in rows]

    def message_count(self, conversation_id: int) -> int:
        """How many messages a conversation has."""
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(Message).where(
                Message.conversation_id == conversation_id)) or 0

    def add_message(self, conversation_id: int, role: str, content: str, *,
                    status: str = MessageStatus.COMPLETE, model_path: str | None = None,
                    parent_id: int | None = None) -> StoredMessage:
        """Append a message (committed before this returns)."""
        now = utcnow()
        with self._sessions.begin() as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None:
                raise LookupError(f"conversation {conversation_id} does not exist")
            row = Message(conversation_id=conversation_id, role=role, content=content,
                          status=status, model_path=model_path, parent_id=parent_id,
                          created_at=now, updated_at=now)
            session.add(row)
            conversation.updated_at = now
            if model_path:
                conversation.model_path = model_path
            if role == "user" and conversation.title == DEFAULT_TITLE:
                conversation.title = title_from(content)
            session.flush()
            return StoredMessage.from_row(row)

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
                          stop_reason=stats.stop_reason)
        with self._sessions.begin() as session:
            session.execute(update(Message).where(Message.id == message_id).values(**values))

    def recover_interrupted(self) -> int:
        """Mark replies left streaming by a crash as interrupted; return how many."""
        with self._sessions.begin() as session:
            result = session.execute(update(Message)
                                     .where(Message.status == MessageStatus.STREAMING)
                                     .values(status=MessageStatus.INTERRUPTED))
            return result.rowcount or 0
