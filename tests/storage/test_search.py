"""Full-text search: literal queries that never raise, an index that follows every change."""

from __future__ import annotations

import random

import pytest

from app.core.paths import Paths
from app.storage.database import open_database
from app.storage.history import History
from app.storage.search import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    MAX_TOKENS,
    fts_query,
    search,
    search_words,
    snippet_html,
    snippet_text,
)

NASTY = ['"', '""', '"""', "AND", "OR", "NOT", "NEAR", "NEAR(a b)", "*", "foo*", "*foo",
         "(", ")", "()", "-x", "a:b", "col:", ":", "^", "^foo", "{", "}", "{content}: x", "'",
         "\\", "%", "_", "+", "a AND", "AND a", "OR OR", "a OR", "NOT a", "a NOT", '"a', 'a"',
         'a" OR "b', "naïve café", "Straße", "日本語", "🔥", "👩‍👩‍👧", "עברית שלום",
         "مرحبا بالعالم", "x" * 10_000, "word " * 2_000, "\x00", "a\x00b", "\x00\"",
         "\ud800", "a\udfffb", "\u200b", "\u202e abc", "\t\n\r", "", " ", "-", "--", "a-",
         "-a-", "NEAR/3", "a + b", "a; DROP TABLE messages;--", "%' OR 1=1 --", "\ue000",
         "\ue001x\ue000"]


@pytest.fixture
def history(paths: Paths) -> History:
    return History(open_database(paths.database_path))


def _chat(history: History, *texts: str, title: str = "A chat") -> list[int]:
    conversation = history.create_conversation(title=title)
    return [history.add_message(conversation.id, "user" if i % 2 == 0 else "assistant", text).id
            for i, text in enumerate(texts)]


def _found(history: History, query: str, **kwargs: object) -> list[int]:
    return [hit.message_id for hit in search(history, query, **kwargs)]


def test_query_building_rules() -> None:
    assert fts_query("owl") == '"owl"*'                      # still typing: prefix
    assert fts_query("owl ") == '"owl"'                      # word finished
    assert fts_query("owl", prefix=False) == '"owl"'
    assert fts_query("ow") == '"ow"'                         # too short to be a prefix
    assert fts_query('say "hi" AND (bye)') == '"say" """hi""" "AND" "(bye)"*'
    assert fts_query("owl *") == '"owl"'                     # "*" is no word
    assert fts_query("ab\x00cde") == '"ab" "cde"*'           # NUL would end the query early
    for nothing in ("", "   ", "*", "(", ")", '"', "- ^ : {}", "🔥", "\x00", "\ud800"):
        assert fts_query(nothing) == ""
    assert len(search_words("w " * 500)) == MAX_TOKENS


@pytest.mark.parametrize("text", NASTY, ids=lambda text: ascii(text)[:24])
def test_any_text_is_accepted(history: History, text: str) -> None:
    _chat(history, "some text AND (more) text: \"quoted\" naïve 日本語 🔥 C++")
    assert isinstance(search(history, text), list)
    assert isinstance(search(history, text, prefix=False), list)


def test_random_text_never_raises(history: History) -> None:
    _chat(history, "alpha beta gamma", "delta AND epsilon")
    alphabet = list('"*()-:^{}\'\\%_+.,;!?<>&|~`@#$/=[]') + ["AND", "OR", "NOT", "NEAR",
                                                            " ", "\x00", "\n", "a", "é", "ß",
                                                            "日", "🔥", "\u200d", "\ue000"]
    rng = random.Random(1234)
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        assert isinstance(search(history, text), list), text


@pytest.mark.parametrize(("stored", "typed"), [
    ("Use AND between words", "AND"),
    ("this OR that", "OR"),
    ("NOT now", "NOT"),
    ("NEAR the river", "NEAR"),
    ("I write C++ every day", "C++"),
    ("a naïve question", "naïve"),
    ("a naïve question", "naive"),
    ("au café du coin", "cafe"),
    ("Die Straße ist lang", "Straße"),
    ("日本語 を 勉強 する", "日本語"),
    ('she said "hello there" twice', '"hello there"'),
    ("a well-known fact", "well-known"),
    ("key:value pairs", "key:value"),
    ("(parenthesised) words", "(parenthesised)"),
    ("שלום עולם", "שלום"),
    ("glob*star", "glob*"),
])
def test_literal_words_are_found(history: History, stored: str, typed: str) -> None:
    _other, wanted = _chat(history, "filler words only", stored)
    assert _found(history, typed) == [wanted]


def test_all_words_must_appear_in_any_order(history: History) -> None:
    both, _only_one = _chat(history, "the brown fox jumps", "the brown dog")
    assert _found(history, "fox brown ") == [both]
    assert _found(history, "well-known", prefix=False) == []


def test_last_word_matches_as_a_prefix_while_typing(history: History) -> None:
    (grammar,) = _chat(history, "a grammar question")
    assert _found(history, "gram") == [grammar]
    assert _found(history, "gram ") == []
    assert _found(history, "gram", prefix=False) == []
    (text,) = _chat(history, "日本語のテキスト")  # unicode61 does not split CJK words
    assert _found(history, "日本語") == [text]


def test_newest_first_limited_and_deleted_chats_left_out(history: History) -> None:
    old = _chat(history, "owl one", "owl two", title="Old owls")
    new = _chat(history, "owl three", title="New owls")
    hits = search(history, "owl")
    assert [h.message_id for h in hits] == new + old[::-1]
    assert [h.conversation_title for h in hits] == ["New owls", "Old owls", "Old owls"]
    assert [h.role for h in hits] == ["user", "assistant", "user"]
    assert all(h.created_at is not None for h in hits)
    assert _found(history, "owl", limit=2) == [new[0], old[1]]
    assert _found(history, "owl", limit=0) == []

    history.delete_conversation(hits[0].conversation_id)
    assert _found(history, "owl") == old[::-1]
    history.restore_conversation(hits[0].conversation_id)
    assert _found(history, "owl") == new + old[::-1]


def test_messages_of_other_branches_are_found(history: History) -> None:
    question, first_answer = _chat(history, "question", "first answer")
    conversation = search(history, "question")[0].conversation_id
    second = history.add_message(conversation, "assistant", "second answer", parent_id=question)
    assert history.path_ids(conversation) == [question, second.id]
    assert _found(history, "answer") == [second.id, first_answer]


def test_accepts_a_session_factory(history: History) -> None:
    (message,) = _chat(history, "factory test")
    assert _found(history.sessions, "factory") == [message]


def test_snippet_highlights_matches_and_is_safe_html(history: History) -> None:
    _chat(history, "<script>alert('x')</script> & the owl & more")
    (hit,) = search(history, "owl")
    assert f"{HIGHLIGHT_START}owl{HIGHLIGHT_END}" in hit.snippet
    assert snippet_text(hit.snippet) == "<script>alert('x')</script> & the owl & more"
    assert snippet_html(hit.snippet) == ("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; "
                                         "&amp; the <b>owl</b> &amp; more")


def test_snippet_of_a_long_message_is_cut_around_the_match(history: History) -> None:
    _chat(history, " ".join(f"w{i}" for i in range(200)) + " needle " + "tail " * 200)
    (hit,) = search(history, "needle")
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert len(snippet_text(hit.snippet).split()) <= 12


def test_snippet_html_tags_always_pair_up() -> None:
    assert snippet_html(f"a{HIGHLIGHT_END}b{HIGHLIGHT_START}c") == "ab<b>c</b>"
    assert snippet_html(f"{HIGHLIGHT_START}{HIGHLIGHT_START}x{HIGHLIGHT_END}"
                        f"{HIGHLIGHT_END}") == "<b>x</b>"
    assert snippet_html(f"{HIGHLIGHT_START}x{HIGHLIGHT_END}", "<mark>", "</mark>") \
        == "<mark>x</mark>"


def test_index_follows_edits_and_deletes(paths: Paths, history: History) -> None:
    (message,) = _chat(history, "the original words")
    assert _found(history, "original") == [message]
    history.save_text(message, "entirely replaced text")
    assert _found(history, "original") == []
    assert _found(history, "replaced") == [message]
    history.finish_message(message, "final version", "complete")
    assert _found(history, "replaced") == []
    assert _found(history, "final") == [message]

    conversation = search(history, "final")[0].conversation_id
    history.delete_conversation(conversation)
    assert history.purge_deleted() == 1
    history.restore_conversation(conversation)  # nothing left to restore
    assert _found(history, "final") == []
    with history.sessions() as session:
        integrity = "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)"
        session.connection().exec_driver_sql(integrity)  # raises if the index disagrees
    assert b"final version" not in paths.database_path.read_bytes()
