"""A partial index of replies still streaming, so start-up crash recovery is instant.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_messages_streaming ON messages(status) "
               "WHERE status = 'streaming'")
