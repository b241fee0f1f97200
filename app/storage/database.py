"""Opening the history database: one SQLite file, WAL journal, foreign keys on, migrated.

Durability: WAL with ``synchronous=NORMAL``. A crash of the app or the engine never
corrupts the file or loses a committed transaction; a power cut may lose the last commits
but not corrupt the database. ``secure_delete`` overwrites freed pages, so deleted chats do
not linger in the file.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from app.core.errors import HearthError
from app.storage.backups import backup, mark_failed, prune_backups

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseError(HearthError):
    """The history database cannot be opened or upgraded."""


# SQLite's result codes for a problem of the file or the machine, not of our SQL: a user
# can act on these (free disk space, close the other program, restore the backup).
_CONDITIONS = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_NOTADB",
               "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_CORRUPT", "SQLITE_PERM",
               "SQLITE_NOMEM", "SQLITE_NOLFS", "SQLITE_AUTH")


def is_condition(exc: BaseException) -> bool:
    """True if ``exc`` is the disk, the file or another process, not a bug in our SQL.

    Such errors become known errors with a hint; anything else (a missing column, a broken
    constraint, a wrong parameter) is a bug and must reach the log and the crash dialog.
    """
    if isinstance(exc, OSError):
        return True
    cause = getattr(exc, "orig", exc)  # SQLAlchemy wraps the sqlite3 error
    name = getattr(cause, "sqlite_errorname", "") or ""
    return isinstance(cause, sqlite3.Error) and name.startswith(_CONDITIONS)


def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        revision = None
        if inspect(connection).has_table("alembic_version"):
            revision = connection.exec_driver_sql(
                "SELECT version_num FROM alembic_version").scalar()
        if revision is None and inspect(connection).has_table("conversations"):
            # Made before migrations existed: tell the schema by its columns.
            columns = {c["name"] for c in inspect(connection).get_columns("conversations")}
            revision = "0002" if "settings" in columns else "0001"
            log.info("Database without a migration stamp; it matches revision %s", revision)
            return f"unstamped:{revision}"
    return revision


def _newest_revision() -> str:
    """The newest migration's id, from the file names (no Alembic import at start-up)."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("0*.py"))


def migrate(engine: Engine, path: Path) -> None:
    """Bring the database to the newest schema, after a backup; refuse a newer one."""
    current = _current_revision(engine)
    if current == _newest_revision():
        return  # the usual case: Alembic is not even imported
    from alembic import command
    from alembic.script import ScriptDirectory

    config = _alembic_config(engine)
    script = ScriptDirectory.from_config(config)
    stamp = None
    if current is not None and current.startswith("unstamped:"):
        stamp = current = current.split(":", 1)[1]
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise DatabaseError(
            f"This history was written by a newer version of Hearth (schema {current}).",
            "Update Hearth to open it; the file was left untouched.")
    copy = None
    if current is not None:
        copy = backup(path, current)
        log.info("Backed up the history to %s before upgrading it", copy)
    try:
        with engine.connect() as connection:
            # A migration that copies a table must not cascade-delete the rows pointing at it.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
            config.attributes["connection"] = connection
            if stamp:
                command.stamp(config, stamp)
            command.upgrade(config, "head")
            connection.commit()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    except Exception as exc:
        if copy is None:
            raise
        try:
            kept = mark_failed(copy)  # the way back: never pruned
        except OSError:
            kept = copy
        log.warning("Upgrading the history failed; its copy from before is kept as %s", kept)
        if not is_condition(exc):
            raise   # a bug in a migration: the crash dialog, with the copy named in the log
        raise DatabaseError(f"The history database could not be upgraded: {exc}",
                            f"Your history as it was before is kept in {kept}.") from exc


def open_database(path: Path, keep_backups: int | None = None) -> sessionmaker[Session]:
    """Create (if needed), migrate and open the database at ``path``; return a session factory.

    Once it is open (and upgraded), all but the ``keep_backups`` newest copies made before
    upgrades are deleted (``storage.backups``; ``None`` keeps them all).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    engine: Engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _on_connect)
    try:
        migrate(engine, path)
    except DatabaseError:
        engine.dispose()
        raise
    except Exception as exc:
        engine.dispose()
        if not is_condition(exc):
            raise
        raise DatabaseError(f"The history database could not be opened: {exc}",
                            f"A backup copy may be next to {path.name}.") from exc
    if keep_backups is not None:
        prune_backups(path, keep_backups)
    return sessionmaker(engine, expire_on_commit=False)
