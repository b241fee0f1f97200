"""Opening the history database: one SQLite file, WAL journal, foreign keys on."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.storage.schema import Base


def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer, and a crash mid-write leaves the file intact.
    # synchronous=NORMAL in WAL mode is still crash-safe for the database; at worst the
    # last commits before a power cut are lost, never corrupted.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def open_database(path: Path) -> sessionmaker[Session]:
    """Create (if needed) and open the database at ``path``; return a session factory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine: Engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _on_connect)
    Base.metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)
