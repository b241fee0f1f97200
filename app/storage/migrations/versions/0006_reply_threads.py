"""The number of generation threads that wrote each reply (chosen automatically by default).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER TABLE ADD COLUMN: instant even on a million messages (no table copy).
    op.add_column("messages", sa.Column("n_threads", sa.Integer))
