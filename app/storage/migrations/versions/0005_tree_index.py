"""A covering index of each conversation's tree, so opening a long chat reads a few pages.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_tree", "messages", ["conversation_id", "id", "parent_id"])
