"""Tables of the history database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """The current time in UTC (what every timestamp column stores)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of all tables."""


class Conversation(Base):
    """One chat: a title and its messages in order."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_listing", "deleted_at", "pinned", "updated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="New chat")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 index=True)
    model_path: Mapped[str | None] = mapped_column(Text, default=None)
    # Generation settings of this conversation only (validated by app.core.settings).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set when deleted (still undoable); the row is purged for good later.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The last message of the branch being shown and continued (the "active path").
    active_leaf_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # Names the engine's saved state of this chat. Random and never reused, unlike ``id``
    # (SQLite hands a purged chat's id to the next one).
    cache_key: Mapped[str | None] = mapped_column(String(32), default=lambda: uuid.uuid4().hex)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Message.id")


class MessageStatus:
    """Life cycle of a stored message."""

    COMPLETE = "complete"        # user messages, and replies that ended normally
    STREAMING = "streaming"      # a reply being written right now
    STOPPED = "stopped"          # the user stopped the reply; the text is partial
    ERROR = "error"              # the engine failed; the text (if any) is partial
    INTERRUPTED = "interrupted"  # the app died while the reply streamed


class Message(Base):
    """One turn: the user's text or a model's reply with its statistics."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation", "conversation_id", "id"),
                      Index("ix_messages_parent", "parent_id"),
                      Index("ix_messages_tree", "conversation_id", "id", "parent_id"),
                      Index("ix_messages_streaming", "status",
                            sqlite_where=text("status = 'streaming'")))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.COMPLETE)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    model_path: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    cached_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    context_used: Mapped[int | None] = mapped_column(Integer, default=None)
    n_ctx: Mapped[int | None] = mapped_column(Integer, default=None)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    ttft_s: Mapped[float | None] = mapped_column(Float, default=None)
    tokens_per_second: Mapped[float | None] = mapped_column(Float, default=None)
    stop_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    n_threads: Mapped[int | None] = mapped_column(Integer, default=None)  # generation threads

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
