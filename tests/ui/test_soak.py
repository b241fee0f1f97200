"""One long session in one process: the real window, the real starter model, 34 replies.

Short tests missed that a fresh install aborted during its sixth reply (PySide6 6.12 lost a
reference to None on every void Qt call). This session streams, stops, regenerates, edits,
switches between chats, opens the model manager and searches, and after every reply checks
that the process is still sound: references to None never fall, and RSS, open files,
threads and engine processes stay flat after a warm-up. Replies are capped short: the point
is many turns and many paints, not many tokens.
"""

from __future__ import annotations

from app.core.paths import Paths
from app.core.settings import Settings
from tests.window_session import Health, WindowSession, health

WARM_UP = 6                 # replies before the baseline (caches, first dialogs, imports)
RSS_GROWTH_MB = 25          # after the warm-up (measured: 8 MB over 28 replies)
FD_GROWTH = 4
THREAD_GROWTH = 3
NONE_REFS_LOST = 200        # the faulty binding loses ~2,500 per reply
# Gains are harmless (a gained reference never frees None) but bounded: rows hold None in
# their fields, and PySide6 gains 3 for each new QTextDocument's layout (measured: ~3,000 here).
NONE_REFS_GROWTH = 30_000
RHYMES = ["cat", "tree", "moon", "star"]


def _scenario(session: WindowSession, settings: Settings) -> None:
    """34 replies over three chats."""
    topics = ["the sea", "mountains", "bread", "owls", "trains", "rain"]
    for number in range(8):                                   # chat A: 8 turns, one long
        settings.set("max_tokens", 120 if number == 3 else 32)
        session.send(f"Tell me one fact about {topics[number % len(topics)]}.")
    settings.set("max_tokens", 200)
    session.send_and_stop("Write a long story about a lighthouse keeper.")
    settings.set("max_tokens", 32)
    for _ in range(3):
        session.regenerate_last()
    session.step_version(-1)
    session.step_version(+1)
    session.edit_last_question("Write a poem about a lighthouse instead.")
    session.browse_models()

    session.new_chat()                                        # chat B: 8 turns
    for number in range(8):
        session.send(f"Give me a word that rhymes with {RHYMES[number % len(RHYMES)]}.")
    session.send_and_stop("Count from 1 to 300.")
    session.search_and_open("lighthouse")                     # back in chat A
    session.send("Thanks. One more fact, please.")
    session.regenerate_last()

    for round_ in range(3):                                   # switching back and forth
        session.open_chat(1)
        session.send(f"Another rhyme, round {round_}.")
        session.open_chat(1)
        session.send(f"Another fact, round {round_}.")
    session.new_chat()                                        # chat C
    for number in range(3):
        session.send(f"Say hello number {number}.")
    session.edit_last_question("Say goodbye instead.")
    session.browse_models()
    session.search_and_open("rhymes")


def _growth(baseline: Health, samples: list[Health], field: str) -> float:
    return max(getattr(s, field) for s in samples) - getattr(baseline, field)


def test_a_long_session_stays_healthy(qtbot, open_window, model_paths: Paths) -> None:
    window = open_window(model_paths, max_tokens=32)
    session = WindowSession(window, reply_timeout_s=180)
    samples = [health(0)]
    finished = window.chat.reply_finished
    finished.connect(lambda _stats: samples.append(health(session.replies + 1)))

    _scenario(session, window.profile.settings)

    assert session.replies >= 30
    start, baseline, after = samples[0], samples[WARM_UP], samples[WARM_UP:]
    table = "\n".join(map(str, samples))
    assert min(s.none_refs for s in samples) >= start.none_refs - NONE_REFS_LOST, \
        f"references to None are being lost (a faulty Qt binding?):\n{table}"
    assert _growth(start, samples, "none_refs") <= NONE_REFS_GROWTH, table
    assert _growth(baseline, after, "rss_mb") <= RSS_GROWTH_MB, table
    assert _growth(baseline, after, "fds") <= FD_GROWTH, table
    assert _growth(baseline, after, "threads") <= THREAD_GROWTH, table
    assert all(s.engines == 1 for s in samples[1:]), table   # one model, one engine
    # Every reply is in the history, with all the text that streamed into the window.
    ids = [message_id for message_id, _ in session.written]
    assert len(set(ids)) == len(ids)
    stored = {m.id: m.content for m in window.profile.history.messages_by_id(ids)}
    assert [(i, stored.get(i)) for i in ids] == session.written
    assert all(text for _, text in session.written)
