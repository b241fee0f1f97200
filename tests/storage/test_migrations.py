"""Schema migrations: an old database is upgraded with every message intact; a newer one
is refused without being touched."""

from __future__ import annotations

import hashlib
from contextlib import closing
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine

from app.storage.database import DatabaseError, _alembic_config, open_database
from app.storage.history import History

NOW = "2026-01-02 03:04:05.000000"


def _first_released_database(path: Path) -> None:
    """A database exactly as the first release (revision 0001) wrote it."""
    engine = create_engine(f"sqlite:///{path}")
    config = _alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    engine.dispose()
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO conversations (id, title, created_at, updated_at, model_path) "
                    "VALUES (1, 'Owls', ?, ?, '/m.gguf')", (NOW, NOW))
        rows = [(1, None, "user", "Tell me about owls 🦉"),
                (2, 1, "assistant", "Owls hunt at night."),
                (3, None, "user", "And barn owls?"),
                (4, 3, "assistant", "They nest in barns.")]
        raw.executemany(
            "INSERT INTO messages (id, conversation_id, parent_id, role, content, status, "
            "created_at, updated_at, completion_tokens, stop_reason) "
            "VALUES (?, 1, ?, ?, ?, 'complete', ?, ?, 5, 'end')",
            [(i, parent, role, content, NOW, NOW) for i, parent, role, content in rows])


def test_the_first_schema_is_upgraded_with_all_data(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    _first_released_database(path)
    history = History(open_database(path))
    messages = history.messages(1)
    assert [(m.role, m.content) for m in messages] == [
        ("user", "Tell me about owls 🦉"), ("assistant", "Owls hunt at night."),
        ("user", "And barn owls?"), ("assistant", "They nest in barns.")]
    assert [m.parent_id for m in messages] == [None, 1, 2, 3]   # one straight branch
    assert messages[-1].completion_tokens == 5 and messages[-1].stop_reason == "end"
    assert history.conversation(1).title == "Owls"
    assert history.conversation_settings(1) == {}
    backups = list(tmp_path.glob("history.sqlite3.backup-0001-*"))
    assert len(backups) == 1
    with closing(sqlite3.connect(backups[0])) as raw:   # the old database, complete
        assert raw.execute("SELECT count(*) FROM messages").fetchone()[0] == 4
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    with closing(sqlite3.connect(path)) as raw:   # the search index covers the old messages
        hits = raw.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'barn*'")
        assert sorted(r[0] for r in hits) == [3, 4]
    History(open_database(path))               # already current: no second backup
    assert len(list(tmp_path.glob("history.sqlite3.backup-*"))) == 1


def test_a_newer_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    History(open_database(path)).create_conversation()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(DatabaseError, match="newer version of Hearth") as caught:
        open_database(path)
    assert caught.value.hint
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_database_from_before_migrations_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    _first_released_database(path)
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE alembic_version")
    assert [m.content for m in History(open_database(path)).messages(1)][-1] == \
        "They nest in barns."
