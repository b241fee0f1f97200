"""The history database: one SQLite file, WAL, foreign keys, messages in order."""

from __future__ import annotations

import sqlite3

import pytest

from app.core.paths import Paths
from app.core.protocol import ReplyStats, StopReason
from app.storage.database import open_database
from app.storage.history import DEFAULT_TITLE, History, title_from
from app.storage.schema import MessageStatus


@pytest.fixture
def history(paths: Paths) -> History:
    return History(open_database(paths.database_path))


def test_database_uses_wal_and_foreign_keys(paths: Paths, history: History) -> None:
    history.create_conversation()
    with history._sessions() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert paths.database_path.is_file()


def test_messages_are_kept_in_order_and_title_follows_first_question(
        history: History) -> None:
    conversation = history.create_conversation(model_path="/m.gguf")
    assert conversation.title == DEFAULT_TITLE
    history.add_message(conversation.id, "user", "What is   the capital\nof France?")
    history.add_message(conversation.id, "assistant", "Paris.")
    history.add_message(conversation.id, "user", "And of Spain?")
    stored = history.messages(conversation.id)
    assert [(m.role, m.content) for m in stored] == [
        ("user", "What is   the capital\nof France?"), ("assistant", "Paris."),
        ("user", "And of Spain?")]
    assert history.conversation(conversation.id).title == "What is the capital of France?"


def test_title_is_shortened_at_a_word() -> None:
    title = title_from("word " * 40)
    assert title.endswith("…") and len(title) <= 61 and "  " not in title


def test_newest_conversation_first_and_rename(history: History) -> None:
    first = history.create_conversation()
    second = history.create_conversation()
    history.add_message(first.id, "user", "bump")
    assert [c.id for c in history.conversations()] == [first.id, second.id]
    history.rename(second.id, "  Renamed  ")
    assert history.conversation(second.id).title == "Renamed"


def test_delete_can_be_undone_until_purged(paths: Paths, history: History) -> None:
    conversation = history.create_conversation()
    history.add_message(conversation.id, "user", "secret")
    history.delete_conversation(conversation.id)
    assert history.conversation(conversation.id) is None and history.conversations() == []
    history.restore_conversation(conversation.id)
    assert [c.id for c in history.conversations()] == [conversation.id]
    history.delete_conversation(conversation.id)
    assert history.purge_deleted() == 1
    with sqlite3.connect(paths.database_path) as raw:
        assert raw.execute("SELECT count(*) FROM messages").fetchone()[0] == 0


def test_adding_to_a_missing_conversation_fails_loudly(history: History) -> None:
    with pytest.raises(LookupError):
        history.add_message(12345, "user", "hello")


def test_finish_stores_stats_and_crash_recovery_marks_streaming(history: History) -> None:
    conversation = history.create_conversation()
    done = history.add_message(conversation.id, "assistant", "par",
                               status=MessageStatus.STREAMING)
    cut = history.add_message(conversation.id, "assistant", "half",
                              status=MessageStatus.STREAMING)
    history.finish_message(done.id, "partial", MessageStatus.STOPPED,
                           ReplyStats(prompt_tokens=5, completion_tokens=2, ttft_s=0.2,
                                      tokens_per_second=50.0,
                                      stop_reason=StopReason.STOPPED))
    assert history.recover_interrupted() == 1
    first, second = history.messages(conversation.id)
    assert (first.content, first.status, first.completion_tokens, first.stop_reason) == (
        "partial", MessageStatus.STOPPED, 2, StopReason.STOPPED)
    assert first.ttft_s == pytest.approx(0.2)
    assert second.id == cut.id and second.status == MessageStatus.INTERRUPTED
