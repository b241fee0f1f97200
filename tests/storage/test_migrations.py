"""Schema migrations: an old database is upgraded with every message intact; a newer one
is refused without being touched."""

from __future__ import annotations

import errno
import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy.exc
from alembic import command
from sqlalchemy import create_engine

from app.chat.profile import Profile
from app.core.paths import Paths
from app.core.settings import Settings
from app.storage.backups import list_backups, remove_backups
from app.storage.database import DatabaseError, _alembic_config, is_condition, open_database
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


def _old_backups(path: Path, *stamps: str) -> list[Path]:
    """Backup copies as earlier upgrades left them (their content does not matter here)."""
    copies = [path.with_name(f"{path.name}.backup-000{number}-{stamp}")
              for number, stamp in enumerate(stamps)]
    for copy in copies:
        copy.write_bytes(b"an older copy")
    return copies


def test_after_an_upgrade_only_the_newest_backups_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    _first_released_database(path)
    old = _old_backups(path, "20250101-000000", "20250301-000000", "20240101-000000")
    History(open_database(path, keep_backups=2))
    kept = list_backups(path)
    assert len(kept) == 2 and kept[0] == old[1]            # the newest old one...
    assert kept[1].name.startswith("history.sqlite3.backup-0001-")   # ...and this upgrade's
    assert not old[0].exists() and not old[2].exists()
    History(open_database(path, keep_backups=1))           # at every start, too
    assert list_backups(path) == [kept[1]]
    History(open_database(path))                           # None: nothing is pruned
    assert list_backups(path) == [kept[1]]


def test_keeping_no_backups_removes_them_once_the_upgrade_succeeded(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    _first_released_database(path)
    _old_backups(path, "20250101-000000")
    history = History(open_database(path, keep_backups=0))
    assert history.messages(1)[-1].content == "They nest in barns."
    assert list_backups(path) == []


@pytest.mark.allow_warnings
def test_the_backup_of_a_failed_upgrade_is_never_pruned(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    path = tmp_path / "history.sqlite3"
    _first_released_database(path)

    def broken_upgrade(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(command, "upgrade", broken_upgrade)
    with pytest.raises(DatabaseError, match="could not be upgraded") as caught:
        open_database(path, keep_backups=0)
    [failed] = list_backups(path)
    assert failed.name.endswith("-upgrade-failed") and failed.name in caught.value.hint
    with closing(sqlite3.connect(failed)) as raw:          # the way back, complete
        assert raw.execute("SELECT count(*) FROM messages").fetchone()[0] == 4

    monkeypatch.undo()                                     # the next version upgrades fine
    History(open_database(path, keep_backups=0))
    assert list_backups(path) == [failed]                  # pruning never touches it
    assert remove_backups(path) == [failed]                # only the user's request does
    assert list_backups(path) == []


@pytest.mark.allow_warnings
def test_a_bug_in_a_migration_is_a_bug_not_a_known_error(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "history.sqlite3"
    _first_released_database(path)

    def buggy_upgrade(*_args: object) -> None:
        with closing(sqlite3.connect(":memory:")) as raw:
            raw.execute("SELECT no_such_column FROM sqlite_master")

    monkeypatch.setattr(command, "upgrade", buggy_upgrade)
    with pytest.raises(sqlite3.OperationalError, match="no such column"):
        open_database(path)                     # reaches the crash dialog, not a banner
    [failed] = list_backups(path)
    assert failed.name.endswith("-upgrade-failed")  # the way back is still kept


def test_database_errors_are_told_apart_by_sqlite_result_code(tmp_path: Path) -> None:
    with (closing(sqlite3.connect(":memory:")) as raw,
          pytest.raises(sqlite3.OperationalError) as bug):
        raw.execute("SELECT no_such_column FROM sqlite_master")
    assert not is_condition(bug.value)
    with (pytest.raises(sqlalchemy.exc.IntegrityError) as constraint,
          create_engine("sqlite://").begin() as connection):
        connection.exec_driver_sql("CREATE TABLE t (x UNIQUE)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1), (1)")
    assert not is_condition(constraint.value)
    readonly = tmp_path / "readonly.sqlite3"
    with closing(sqlite3.connect(readonly)) as raw:
        raw.execute("CREATE TABLE t (x)")
        raw.commit()
    with (closing(sqlite3.connect(f"file:{readonly}?mode=ro", uri=True)) as raw,
          pytest.raises(sqlite3.OperationalError) as condition):
        raw.execute("INSERT INTO t VALUES (1)")
    assert is_condition(condition.value)            # SQLITE_READONLY: the user's to fix
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database at all " * 100)
    with pytest.raises(DatabaseError, match="could not be opened"):
        open_database(garbage)                            # SQLITE_NOTADB: a known error


def test_the_profile_keeps_as_many_backups_as_the_setting_says(paths: Paths) -> None:
    _first_released_database(paths.database_path)
    _old_backups(paths.database_path, "20250101-000000")
    Settings(paths.settings_path).set("keep_history_backups", 0)
    Profile.open(paths)
    assert list_backups(paths.database_path) == []
