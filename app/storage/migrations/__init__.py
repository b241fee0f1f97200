"""Alembic migrations of the history database (applied by app.storage.database)."""
