"""Branches (active path), pinning, undoable deletion, and full-text search.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FTS = [
    # External-content FTS5 index over messages.content, kept in sync by triggers.
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) "
    "VALUES ('delete', old.id, old.content); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) "
    "VALUES ('delete', old.id, old.content); "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    with op.batch_alter_table("conversations") as table:
        # A literal default: a SQL expression would make SQLite copy the whole table.
        table.add_column(sa.Column("pinned", sa.Boolean, nullable=False, server_default="0"))
        table.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True)))
        table.add_column(sa.Column("active_leaf_id", sa.Integer))
    op.create_index("ix_messages_parent", "messages", ["parent_id"])
    op.create_index("ix_conversations_listing", "conversations",
                    ["deleted_at", "pinned", "updated_at"])
    # Until now every conversation was one straight line: chain each message to the one
    # before it, and make the last one the end of the active path.
    op.execute("""
        UPDATE messages SET parent_id = (
            SELECT max(m.id) FROM messages AS m
            WHERE m.conversation_id = messages.conversation_id AND m.id < messages.id)
        WHERE parent_id IS NULL
    """)
    op.execute("""
        UPDATE conversations SET active_leaf_id = (
            SELECT max(m.id) FROM messages AS m WHERE m.conversation_id = conversations.id)
    """)
    for statement in FTS:
        op.execute(statement)
