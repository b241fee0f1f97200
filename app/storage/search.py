"""Full-text search over every message of every conversation not deleted.

The index is ``messages_fts`` (FTS5, unicode61 tokenizer with ``remove_diacritics 2``),
which triggers keep in step with ``messages``; see migration 0003.

Whatever the user types is searched *literally*: FTS5's query syntax (``AND``, ``OR``,
``NOT``, ``NEAR``, ``*``, ``^``, ``-``, ``:``, parentheses, quotes) is never interpreted.
``fts_query`` explains how the text becomes a query.
"""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, text
from sqlalchemy.orm import Session, sessionmaker

from app.storage.history import History

HIGHLIGHT_START = "\ue000"  # private-use characters: snippet() puts them around each match
HIGHLIGHT_END = "\ue001"
ELLIPSIS = "…"
SNIPPET_TOKENS = 12
MAX_TOKENS = 64  # more words than anyone types; keeps a pasted page from costing seconds
PREFIX_MIN_CHARS = 3  # shorter prefixes match too many words: 0.2-2 s on 1M messages

_SEARCH_SQL = text(f"""
    SELECT m.conversation_id, c.title AS conversation_title, m.id AS message_id, m.role,
           snippet(messages_fts, 0, :start, :end, :ellipsis, {SNIPPET_TOKENS}) AS snippet,
           m.created_at
    FROM messages_fts
    JOIN messages AS m ON m.id = messages_fts.rowid
    JOIN conversations AS c ON c.id = m.conversation_id
    WHERE messages_fts MATCH :query AND c.deleted_at IS NULL
    ORDER BY messages_fts.rowid DESC
    LIMIT :limit
""").columns(conversation_id=Integer, conversation_title=String, message_id=Integer,
             role=String, snippet=Text, created_at=DateTime(timezone=True))


@dataclass(frozen=True)
class SearchHit:
    """One message that matches a search, with a snippet of its text.

    ``snippet`` marks each matching word with ``HIGHLIGHT_START``/``HIGHLIGHT_END``; show
    it with ``snippet_html`` or ``snippet_text``.
    """

    conversation_id: int
    conversation_title: str
    message_id: int
    role: str
    snippet: str
    created_at: datetime | None


def _is_token_char(char: str) -> bool:
    # unicode61's default token characters: letters, numbers and private-use characters.
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Co"


def _is_separator(char: str) -> bool:
    # Controls (NUL would end the query string early), lone surrogates (not encodable as
    # UTF-8), format characters and every kind of space.
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cs", "Cf", "Zs", "Zl", "Zp")


def search_words(user_text: str) -> list[str]:
    """The words of ``user_text`` that can match anything, in order (at most MAX_TOKENS).

    A word is a run of characters between spaces (or control characters); a word with no
    letter or digit (``*``, ``(``, ``--``, an emoji) is left out, as the tokenizer would
    drop it anyway.
    """
    cleaned = "".join(" " if _is_separator(char) else char for char in user_text)
    return [word for word in cleaned.split() if any(map(_is_token_char, word))][:MAX_TOKENS]


def fts_query(user_text: str, prefix: bool = True) -> str:
    """The FTS5 query that finds ``user_text`` literally; "" when nothing can match.

    Rules:
      * every word (see ``search_words``) becomes a quoted FTS5 string, ``"`` doubled inside,
        so operators and punctuation are plain text; FTS5 tokenizes inside the quotes, so
        ``foo-bar`` is the phrase "foo bar" and ``C++`` the word "c";
      * the words are joined by spaces: a message must contain all of them (implicit AND),
        in any order;
      * with ``prefix`` (search as you type), the last word also matches words it begins
        (``"gra"*`` finds "grammar") while it is still being typed: not once the text ends
        in a space, and not when it is shorter than PREFIX_MIN_CHARS.
    """
    words = search_words(user_text)
    if not words:
        return ""
    query = " ".join('"' + word.replace('"', '""') + '"' for word in words)
    last = words[-1]
    if (prefix and not user_text[-1:].isspace() and user_text.rstrip().endswith(last)
            and sum(map(_is_token_char, last)) >= PREFIX_MIN_CHARS):
        query += "*"
    return query


def search(history: History | sessionmaker[Session], user_text: str, limit: int = 50,
           prefix: bool = True) -> list[SearchHit]:
    """Messages matching ``user_text`` (see ``fts_query``), newest first, at most ``limit``.

    Messages of deleted conversations are left out. Any text is accepted: one with no
    searchable word returns [] without touching the database.
    """
    query = fts_query(user_text, prefix)
    if not query or limit <= 0:
        return []
    sessions = history.sessions if isinstance(history, History) else history
    with sessions() as session:
        rows = session.execute(_SEARCH_SQL, {
            "query": query, "limit": limit, "start": HIGHLIGHT_START,
            "end": HIGHLIGHT_END, "ellipsis": ELLIPSIS})
        return [SearchHit(**row._asdict()) for row in rows]


def snippet_text(snippet: str) -> str:
    """A snippet as plain text (highlight marks removed)."""
    return snippet.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, "")


def snippet_html(snippet: str, start_tag: str = "<b>", end_tag: str = "</b>") -> str:
    """A snippet as safe HTML: its text escaped, each highlighted match in ``start_tag``.

    The tags always pair up, even if the message itself contained the marker characters.
    """
    parts: list[str] = []
    open_ = False
    for char in snippet:
        if char == HIGHLIGHT_START:
            if not open_:
                parts.append(start_tag)
                open_ = True
        elif char == HIGHLIGHT_END:
            if open_:
                parts.append(end_tag)
                open_ = False
        else:
            parts.append(html.escape(char))
    if open_:
        parts.append(end_tag)
    return "".join(parts)
