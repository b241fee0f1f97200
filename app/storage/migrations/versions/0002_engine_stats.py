"""Per-conversation settings and the engine's context statistics.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as table:
        table.add_column(sa.Column("settings", sa.JSON, nullable=False, server_default="{}"))
    with op.batch_alter_table("messages") as table:
        table.add_column(sa.Column("cached_tokens", sa.Integer))
        table.add_column(sa.Column("context_used", sa.Integer))
        table.add_column(sa.Column("n_ctx", sa.Integer))
