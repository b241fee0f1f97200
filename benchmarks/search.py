"""Search benchmark: full-text search over a large synthetic history.

Builds a history of ``messages`` messages (50 per conversation, ~30 words each from a
Zipf-distributed vocabulary, so a few words are in most messages and most words are rare),
through the real schema and triggers, then times ``app.storage.search.search`` (limit 50)
for typical and worst-case queries: the median of several runs each.

Run: ``python -m benchmarks.search [--messages N] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

from app.storage.database import open_database
from app.storage.history import History
from app.storage.search import search
from benchmarks.driver import median, scratch_dir

PER_CONVERSATION = 50
WORDS_PER_MESSAGE = 30
VOCABULARY = 50_000
RUNS = 7
COMMON = ["the", "and", "of", "to", "a", "in", "is", "it", "you", "that"]
QUERIES = {  # a trailing space ends the word; without it the last word is also a prefix
    "most common word": "the ",
    "two common words": "the and ",
    "rare word": "w49999 ",
    "common + rare word": "the w49999 ",
    "no match": "zzzzzz ",
    "typing 'the' (prefix)": "the",
    "typing 'w12' (1,111 words)": "w12",
    "typing 'w123' (111 words)": "w123",
    "pasted 10,000 characters": ("w7 " * 3400)[:10_000],
}


def _vocabulary() -> tuple[list[str], list[float]]:
    words = COMMON + [f"w{i}" for i in range(VOCABULARY)]
    weights = list(accumulate(1 / (rank + 1) for rank in range(len(words))))
    return words, weights


def build(history: History, messages: int, progress: Callable[[str], None]) -> None:
    """Fill ``history`` with ``messages`` synthetic messages, committing in large batches."""
    words, cumulative = _vocabulary()
    rng = random.Random(42)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    conversations = (messages + PER_CONVERSATION - 1) // PER_CONVERSATION
    with history.sessions.begin() as session:
        connection = session.connection()
        connection.exec_driver_sql(
            "INSERT INTO conversations (id, title, created_at, updated_at, settings, pinned) "
            "VALUES (?, ?, ?, ?, '{}', 0)",
            [(i + 1, f"Chat {i + 1}", now, now) for i in range(conversations)])
    batch = 50_000
    for start in range(0, messages, batch):
        rows = [(i + 1, i // PER_CONVERSATION + 1, "user" if i % 2 == 0 else "assistant",
                 " ".join(rng.choices(words, cum_weights=cumulative, k=WORDS_PER_MESSAGE)),
                 "complete", now, now)
                for i in range(start, min(messages, start + batch))]
        with history.sessions.begin() as session:
            session.connection().exec_driver_sql(
                "INSERT INTO messages (id, conversation_id, role, content, status, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        progress(f"  {min(messages, start + batch):,} / {messages:,} messages")


def run(messages: int = 1_000_000, progress: Callable[[str], None] = print,
        **_: Any) -> dict[str, Any]:
    """Build the history, then time every query in QUERIES."""
    path = scratch_dir() / "history.sqlite3"
    history = History(open_database(path))
    started = time.perf_counter()
    build(history, messages, progress)
    result: dict[str, Any] = {"messages": messages,
                              "build_s": time.perf_counter() - started,
                              "database_mb": path.stat().st_size / 2**20, "queries": {}}
    for name, text in QUERIES.items():
        times, hits = [], 0
        for _ in range(RUNS):
            begin = time.perf_counter()
            hits = len(search(history, text))
            times.append(time.perf_counter() - begin)
        result["queries"][name] = {"median_ms": median(times) * 1000,
                                   "max_ms": max(times) * 1000, "hits": hits}
        progress(f"  {name}: {median(times) * 1000:.1f} ms")
    return result


def table(r: dict[str, Any]) -> str:
    """The results as a text table (goal: every query under 100 ms)."""
    title = (f"search over {r['messages']:,} messages ({r['database_mb']:.0f} MB, "
             f"built in {r['build_s']:.0f} s), limit 50, median of {RUNS} runs")
    lines = [title, f"{'query':<28} {'median':>10} {'max':>10} {'hits':>6}   goal"]
    for name, q in r["queries"].items():
        lines.append(f"{name:<28} {q['median_ms']:>7.1f} ms {q['max_ms']:>7.1f} ms "
                     f"{q['hits']:>6}   < 100 ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: build, time, print the table (or JSON)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args.messages, progress=lambda text: print(text, file=sys.stderr))
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
