"""A streaming reply is created with its first text and saved at least once a second."""

from __future__ import annotations

import pytest

from app.core.paths import Paths
from app.core.protocol import ReplyStats, StopReason
from app.storage.database import open_database
from app.storage.history import History
from app.storage.reply_writer import ReplyWriter
from app.storage.schema import MessageStatus


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(paths: Paths) -> tuple[History, int, int]:
    history = History(open_database(paths.database_path))
    conversation = history.create_conversation()
    user = history.add_message(conversation.id, "user", "hi")
    return history, conversation.id, user.id


def test_created_with_first_text_then_saved_on_interval(setup) -> None:
    history, conversation_id, user_id = setup
    clock = FakeClock()
    writer = ReplyWriter(history, conversation_id, user_id, "/m.gguf", interval=0.5,
                         clock=clock)
    writer.append("")
    assert history.message_count(conversation_id) == 1  # nothing yet: no empty rows
    writer.append("Hel")
    stored = history.messages(conversation_id)[-1]
    assert (stored.role, stored.content, stored.status) == ("assistant", "Hel",
                                                           MessageStatus.STREAMING)
    clock.now += 0.2
    writer.append("lo")
    assert history.messages(conversation_id)[-1].content == "Hel"   # not yet due
    clock.now += 0.4
    writer.append(" there")
    assert history.messages(conversation_id)[-1].content == "Hello there"
    writer.finish(ReplyStats(prompt_tokens=3, completion_tokens=3,
                             stop_reason=StopReason.LENGTH))
    final = history.messages(conversation_id)[-1]
    assert (final.content, final.status, final.stop_reason) == (
        "Hello there", MessageStatus.COMPLETE, StopReason.LENGTH)


@pytest.mark.parametrize("reason, status", [
    (StopReason.STOPPED, MessageStatus.STOPPED), (StopReason.END, MessageStatus.COMPLETE)])
def test_finish_maps_stop_reason_to_status(setup, reason: str, status: str) -> None:
    history, conversation_id, user_id = setup
    writer = ReplyWriter(history, conversation_id, user_id, "/m.gguf")
    writer.append("partial")
    writer.finish(ReplyStats(completion_tokens=1, stop_reason=reason))
    assert history.messages(conversation_id)[-1].status == status


def test_failure_keeps_the_partial_text_with_the_reason(setup) -> None:
    history, conversation_id, user_id = setup
    writer = ReplyWriter(history, conversation_id, user_id, "/m.gguf")
    writer.append("Once upon")
    writer.append(" a time")
    writer.fail("The model engine was killed by SIGKILL")
    final = history.messages(conversation_id)[-1]
    assert final.content == "Once upon a time"
    assert final.status == MessageStatus.ERROR and "SIGKILL" in final.error
    assert final.stop_reason == StopReason.ERROR


def test_failure_before_any_text_stores_nothing(setup) -> None:
    history, conversation_id, user_id = setup
    ReplyWriter(history, conversation_id, user_id, "/m.gguf").fail("no model")
    assert [m.role for m in history.messages(conversation_id)] == ["user"]
