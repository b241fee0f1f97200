"""A large synthetic history for the history benchmark, generated once and cached.

The database is made by ``open_database`` (so the Alembic migrations give it the real schema,
indexes and FTS triggers), then filled with plain ``executemany`` inserts in large
transactions; the triggers index every message as it goes in. Texts are drawn from a few
hundred words with a Zipf-like frequency (so "the" is everywhere and the last words are
rare), 20–400 characters long. Every conversation is one linear chain (``parent_id`` = the
message before, ``active_leaf_id`` = the last). One conversation has exactly ``BIG``
messages, spread over the whole id range as a chat kept going for months would be.

The cache is a complete profile folder under ``~/.cache/hearth/bench/`` named after the
sizes, the generator version and the migrations, so a rerun opens it at once.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from app.storage.database import MIGRATIONS, open_database

BIG = 2_000
VERSION = 1
BATCH = 100_000  # messages per transaction
RARE_WORD = "xylophonist"  # in RARE_COUNT messages only
RARE_COUNT = 25
COMMON = [
    "the", "and", "of", "to", "a", "in", "is", "it", "you", "that", "for", "on", "with", "as",
    "this", "be", "are", "was", "not", "or", "but", "what", "can", "your", "have", "model",
    "water", "garden", "night", "river", "light", "stone", "house", "music", "paper", "window",
    "winter", "summer",
]
_SYLLABLES = [
    "ka", "lo", "mi", "ra", "ten", "shu", "vel", "dor", "pa", "zin", "qua", "bre", "lu", "nor",
    "fi", "gan", "tor", "el", "sim", "ber",
]
_DATE = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime in SQLite


def cache_root() -> Path:
    """Where generated databases are kept between runs."""
    return Path.home() / ".cache" / "hearth" / "bench"


def vocabulary() -> list[str]:
    """A few hundred distinct words, most frequent first."""
    rng = random.Random(7)
    words = list(COMMON)
    seen = set(words)
    while len(words) < 600:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Texts:
    """Message texts of 20–400 characters from ``vocabulary()``, Zipf-like."""

    def __init__(self, seed: int) -> None:
        self.words = vocabulary()
        self._cumulative: list[float] = []
        total = 0.0
        for rank in range(len(self.words)):
            total += 1 / (rank + 1)
            self._cumulative.append(total)
        self._rng = random.Random(seed)

    def make(self) -> str:
        """One message text."""
        target = self._rng.randint(20, 400)
        text = ""
        while len(text) < target:
            text += " ".join(self._rng.choices(self.words, cum_weights=self._cumulative,
                                               k=target // 5 + 2)) + " "
        text = text[:target]
        if len(cut := text.rsplit(" ", 1)[0]) >= 19:  # end on a whole word where it can
            text = cut
        return text[:1].upper() + text[1:] + "."


def _layout(conversations: int, messages: int, rng: random.Random) -> list[int]:
    """The conversation (0-based) of each message in id order; 0 is the big one."""
    counts = [rng.randint(40, 160) for _ in range(conversations - 1)]
    missing = messages - BIG - sum(counts)
    i = 0
    while missing:  # nudge the counts until they add up, keeping each ≥ 2
        step = 1 if missing > 0 else -1
        if counts[i] + step >= 2:
            counts[i] += step
            missing -= step
        i = (i + 1) % len(counts)
    every = (messages - BIG) // BIG
    order: list[int] = []
    for c, count in enumerate(counts):
        for _ in range(count):
            if len(order) % (every + 1) == 0 and len(order) // (every + 1) < BIG:
                order.append(0)  # the big chat: one message every `every` others
            order.append(c + 1)
    order += [0] * (messages - len(order))
    return order


def _rows(order: list[int], conversations: int, texts: Texts,
          rng: random.Random) -> Iterator[tuple[Any, ...]]:
    start = datetime(2023, 1, 1)
    last: list[int | None] = [None] * conversations
    rare = set(rng.sample(range(1, len(order) + 1), RARE_COUNT))
    seen: list[int] = [0] * conversations
    for message_id, conversation in enumerate(order, start=1):
        role = "user" if seen[conversation] % 2 == 0 else "assistant"
        seen[conversation] += 1
        text = texts.make()
        if message_id in rare:
            text = f"{text} The {RARE_WORD} played."
        when = (start + timedelta(seconds=30 * message_id)).strftime(_DATE)
        stats = (None, None, None) if role == "user" else (
            rng.randint(20, 2000), len(text) // 4, round(rng.uniform(40, 90), 1))
        yield (message_id, conversation + 1, last[conversation], role, text, "complete",
               "/models/model.gguf" if role == "assistant" else None, when, when, *stats)
        last[conversation] = message_id


_MESSAGE_SQL = ("INSERT INTO messages (id, conversation_id, parent_id, role, content, status, "
                "model_path, created_at, updated_at, prompt_tokens, completion_tokens, "
                "tokens_per_second) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_CONVERSATION_SQL = ("INSERT INTO conversations (id, title, created_at, updated_at, model_path, "
                     "settings, pinned, deleted_at, active_leaf_id) "
                     "VALUES (?, ?, ?, ?, ?, '{}', ?, NULL, NULL)")
_LEAVES_SQL = ("UPDATE conversations SET active_leaf_id = (SELECT max(id) FROM messages "
               "WHERE conversation_id = conversations.id), updated_at = (SELECT max(created_at) "
               "FROM messages WHERE conversation_id = conversations.id)")


def generate(database: Path, conversations: int, messages: int,
             progress: Callable[[str], None]) -> dict[str, Any]:
    """Create ``database`` with the real schema and fill it; return what was made."""
    began = time.perf_counter()
    engine = open_database(database).kw["bind"]
    rng = random.Random(42)
    texts = Texts(seed=1)
    order = _layout(conversations, messages, rng)
    start = datetime(2023, 1, 1).strftime(_DATE)
    with engine.begin() as connection:
        connection.exec_driver_sql(_CONVERSATION_SQL, [
            (c, f"Chat {c}: " + " ".join(rng.sample(texts.words[:200], 4)), start, start,
             "/models/model.gguf", int(c % 1000 == 0)) for c in range(1, conversations + 1)])
    rows = _rows(order, conversations, texts, rng)
    done = 0
    while done < messages:
        batch = [next(rows) for _ in range(min(BATCH, messages - done))]
        with engine.begin() as connection:
            connection.exec_driver_sql(_MESSAGE_SQL, batch)
        done += len(batch)
        progress(f"generated {done:,} of {messages:,} messages "
                 f"({time.perf_counter() - began:.0f} s)")
    with engine.begin() as connection:
        connection.exec_driver_sql(_LEAVES_SQL)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return {"conversations": conversations, "messages": messages, "big_conversation_id": 1,
            "big_messages": BIG, "rare_word": RARE_WORD, "rare_messages": RARE_COUNT,
            "generate_s": time.perf_counter() - began,
            "generated_on": datetime.now().isoformat(timespec="seconds")}


def cached_profile(conversations: int, messages: int,
                   progress: Callable[[str], None]) -> tuple[Path, dict[str, Any]]:
    """A profile folder holding the generated history (made now if not cached); its facts."""
    schema = "-".join(sorted(p.stem.split("_")[0] for p in (MIGRATIONS / "versions")
                             .glob("*.py")))
    folder = cache_root() / f"history-{conversations}c-{messages}m-v{VERSION}-s{schema}"
    facts = folder / "facts.json"
    if facts.is_file():
        return folder, json.loads(facts.read_text()) | {"cached": True}
    building = folder.with_name(folder.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    made = generate(building / "history.sqlite3", conversations, messages, progress)
    (building / "facts.json").write_text(json.dumps(made, indent=2))
    building.rename(folder)
    return folder, made | {"cached": False}
