"""A random, never reused key per conversation for the engine's saved states.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("cache_key", sa.String(32)))
    op.execute("UPDATE conversations SET cache_key = lower(hex(randomblob(16))) "
               "WHERE cache_key IS NULL")
