"""A purged conversation leaves no trace of its text on disk; an undoable delete keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from app.core.paths import Paths
from app.storage.database import open_database
from app.storage.history import History

SECRET_WORD = "quokkaflibbertigibbet"   # a word that occurs nowhere else
SECRET = f"The zebra sang 4711 lullabies at dawn, said {SECRET_WORD}."
SECRET_REPLY = f"Indeed, {SECRET_WORD} heard the zebra too."
KEPT_WORD = "pangolinmarmalade"
KEPT = f"Please keep this: {KEPT_WORD} on toast."
# Enough text that the deleted rows fill pages of their own, as real chats do.
FILLER = " ".join(f"{SECRET_WORD}{i}" for i in range(400))


@pytest.fixture
def history(paths: Paths) -> History:
    return History(open_database(paths.database_path))


def _disk_bytes(database: Path) -> dict[str, bytes]:
    """The raw bytes of the database and of its WAL and journal, where they exist."""
    files = {}
    for suffix in ("", "-wal", "-journal"):
        path = database.with_name(database.name + suffix)
        if path.exists():
            files[path.name] = path.read_bytes()
    return files


def _traces(database: Path, needles: list[str]) -> list[str]:
    """Which needles (UTF-8) occur in which file, e.g. ['history.sqlite3-wal: zebra …']."""
    return [f"{name}: {needle!r}" for name, data in _disk_bytes(database).items()
            for needle in needles if needle.encode() in data]


def _fts_rowids(history: History, word: str) -> list[int]:
    with history.sessions() as session:
        return list(session.scalars(text(
            "SELECT rowid FROM messages_fts WHERE messages_fts MATCH :q"), {"q": f'"{word}"'}))


def _fill(history: History) -> tuple[int, int, list[int]]:
    """A secret conversation and a kept one; return their ids and the kept message ids."""
    secret = history.create_conversation(model_path="/m.gguf")
    history.add_message(secret.id, "user", SECRET)
    history.add_message(secret.id, "assistant", SECRET_REPLY)
    history.add_message(secret.id, "user", FILLER)
    kept = history.create_conversation(model_path="/m.gguf")
    kept_ids = [history.add_message(kept.id, "user", KEPT).id,
                history.add_message(kept.id, "assistant", "Kept.").id]
    return secret.id, kept.id, kept_ids


def test_purged_conversation_leaves_no_text_in_the_files(paths: Paths,
                                                         history: History) -> None:
    secret_id, kept_id, kept_ids = _fill(history)
    database = paths.database_path
    needles = [SECRET, SECRET_WORD, "zebra sang 4711 lullabies", SECRET_REPLY]
    # The test can fail: before the purge the text is on disk (file or WAL).
    assert _traces(database, needles)
    assert _fts_rowids(history, SECRET_WORD)

    history.delete_conversation(secret_id)
    assert history.purge_deleted() == 1

    assert _traces(database, needles) == []
    assert history.conversation(secret_id) is None
    assert history.message_count(secret_id) == 0
    assert _fts_rowids(history, SECRET_WORD) == []
    assert [c.id for c in history.conversations()] == [kept_id]
    assert [(m.role, m.content) for m in history.messages(kept_id)] == [
        ("user", KEPT), ("assistant", "Kept.")]
    assert _fts_rowids(history, KEPT_WORD) == [kept_ids[0]]
    with history.sessions() as session:
        assert session.scalar(text("PRAGMA integrity_check")) == "ok"
        # The external-content index still agrees with the table it indexes.
        session.execute(text("INSERT INTO messages_fts(messages_fts, rank) "
                             "VALUES ('integrity-check', 1)"))


def test_purge_survives_reopening_and_a_second_purge(paths: Paths, history: History) -> None:
    secret_id, kept_id, _ = _fill(history)
    history.delete_conversation(secret_id)
    history.purge_deleted()
    history.sessions.kw["bind"].dispose()
    reopened = History(open_database(paths.database_path))
    assert _traces(paths.database_path, [SECRET_WORD, SECRET]) == []
    assert reopened.purge_deleted() == 0
    assert [c.id for c in reopened.conversations()] == [kept_id]
    assert _fts_rowids(reopened, KEPT_WORD)


def test_delete_without_purge_keeps_the_text_and_restore_brings_it_back(
        paths: Paths, history: History) -> None:
    secret_id, kept_id, _ = _fill(history)
    history.delete_conversation(secret_id)

    assert [c.id for c in history.conversations()] == [kept_id]
    # Still undoable, so still on disk and still indexed.
    assert _traces(paths.database_path, [SECRET_WORD])
    assert _fts_rowids(history, SECRET_WORD)

    history.restore_conversation(secret_id)
    assert {c.id for c in history.conversations()} == {secret_id, kept_id}
    assert [m.content for m in history.messages(secret_id)] == [SECRET, SECRET_REPLY, FILLER]
    assert history.purge_deleted() == 0
    assert _traces(paths.database_path, [SECRET_WORD])
