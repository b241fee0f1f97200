"""History benchmark: a large history (10,000 chats, 1,000,000 messages) stays quick.

- start: from process start to the first page of the conversation list, in a fresh process:
  at the storage level (``Profile.open`` + ``History.conversations(limit=100)``) and in the
  real window (``MainWindow`` offscreen until its list model has rows);
- open: the 2,000-message chat, as a lazy page (``path_ids`` + ``messages_by_id`` of the
  last 50) and in full (``History.messages``);
- search: ``app.storage.search.search`` (or, without it, the raw FTS query) for a common
  word, a rare word and two words;
- size: database file + WAL, in MB per million messages.

Every timing runs in a fresh process (SQLite's cache empty), with the file either evicted
from the OS page cache first ("cold", as after a reboot) or not ("warm", as after a restart
of the app); the median of RUNS runs. The history is generated once and cached
(``benchmarks/history_data.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.driver import format_table, median
from benchmarks.history_data import RARE_WORD, cached_profile, vocabulary

CONVERSATIONS = 10_000
MESSAGES = 1_000_000
RUNS = 5
PAGE = 50
QUERIES = {"common word": "the ", "rare word": f"{RARE_WORD} ", "two words": None}
GOALS = {"start": 1.5, "open": 0.150, "search": 0.100}  # seconds
ROOT = Path(__file__).resolve().parents[1]


def _evict(folder: Path) -> None:
    """Drop the database files from the OS page cache (as after a reboot)."""
    for name in ("history.sqlite3", "history.sqlite3-wal"):
        path = folder / name
        if path.exists():
            with path.open("rb") as file:
                os.posix_fadvise(file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def _probe(name: str, folder: Path, arg: str = "", cold: bool = False) -> dict[str, Any]:
    """Run one probe in a fresh process; its figures plus ``total_s`` from its launch."""
    if cold:
        _evict(folder)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    launched = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "benchmarks.history_probe", name,
                           str(folder), arg], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"probe {name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result | {"total_s": result.pop("done_at") - launched}


def _medians(name: str, folder: Path, arg: str = "", runs: int = RUNS) -> dict[str, Any]:
    """Median of each figure over ``runs`` cold and ``runs`` warm runs."""
    out: dict[str, Any] = {}
    for mode in ("cold", "warm"):
        results = [_probe(name, folder, arg, cold=mode == "cold") for _ in range(runs)]
        for key in results[0]:
            if isinstance(results[0][key], float):
                out[f"{mode}_{key}"] = median([r[key] for r in results])
            else:
                out[key] = results[0][key]
    return out


def run(model: str | None = None, progress: Callable[[str], None] = print,
        only: list[str] | None = None) -> dict[str, Any]:
    """Generate (or reuse) the history, then time start, open, search; return the figures."""
    del model  # no language model involved
    folder, facts = cached_profile(CONVERSATIONS, MESSAGES, progress)
    database = folder / "history.sqlite3"
    wal = folder / "history.sqlite3-wal"
    size = database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    result: dict[str, Any] = {"benchmark": "history", "data": facts, "folder": str(folder),
                              "size_mb": size / 1e6,
                              "mb_per_million": size / 1e6 / (facts["messages"] / 1e6)}
    want = set(only or ("start", "open", "search"))
    if "start" in want:
        progress("start: storage level")
        result["start_storage"] = _medians("start_storage", folder)
        progress("start: window level")
        try:
            result["start_window"] = _medians("start_window", folder)
        except RuntimeError as exc:  # e.g. no Qt platform here: report, measure the rest
            result["start_window"] = {"error": str(exc)[-500:]}
    if "open" in want:
        big = str(facts["big_conversation_id"])
        for part in ("open_lazy", "open_full"):
            progress(f"open: {part}")
            result[part] = _medians(part, folder, big)
    if "search" in want:
        words = vocabulary()
        queries = dict(QUERIES, **{"two words": f"{words[30]} {words[40]} "})
        result["search"] = {}
        for label, query in queries.items():
            progress(f"search: {label} ({query.strip()!r})")
            result["search"][label] = _medians("search", folder, query) | {"query": query}
    return result


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _row(label: str, figures: dict[str, Any], key: str, goal: float | None,
         extra: str = "") -> tuple[str, str, str]:
    if "error" in figures:
        return label, "failed: " + figures["error"].splitlines()[-1][:80], ""
    cold, warm = figures[f"cold_{key}"], figures[f"warm_{key}"]
    verdict = "" if goal is None else (" ✓" if cold <= goal else " ✗ (cold)"
                                       if warm <= goal else " ✗")
    return (label, f"cold {_ms(cold)} · warm {_ms(warm)}{extra}",
            (f"≤ {_ms(goal)}" if goal else "") + verdict)


def table(r: dict[str, Any]) -> str:
    """The results as a text table with the goals."""
    d = r["data"]
    made = "cached; " if d.get("cached") else ""
    rows: list[tuple[str, str, str]] = []
    if "start_storage" in r:
        s = r["start_storage"]
        rows.append(_row("start → list page (Profile.open + conversations(100))", s, "total_s",
                         GOALS["start"]))
        for mode in ("cold", "warm"):
            s[f"{mode}_imports_s"] = s[f"{mode}_total_s"] - s[f"{mode}_open_s"] - s[
                f"{mode}_list_s"]
        rows.append(_row("  of which Python start + imports", s, "imports_s", None))
        rows.append(_row("  of which Profile.open", s, "open_s", None))
        rows.append(_row("    of which recover_interrupted", s, "recover_s", None))
        rows.append(_row("  of which conversations(limit=100)", s, "list_s", None))
        w = r["start_window"]
        rows.append(_row("start → MainWindow list has rows (offscreen)", w, "total_s",
                         GOALS["start"], f" · {w.get('rows', 0):,} rows loaded"))
        if "error" not in w:
            for mode in ("cold", "warm"):
                w[f"{mode}_imports_s"] = w[f"{mode}_total_s"] - w[f"{mode}_open_s"] - w[
                    f"{mode}_window_s"]
            rows.append(_row("  of which Python start + imports + QApplication", w,
                             "imports_s", None))
            rows.append(_row("  of which Profile.open", w, "open_s", None))
            rows.append(_row("  of which MainWindow() until rows", w, "window_s", None))
    for part, label in (("open_lazy", "open 2,000-msg chat: path_ids + last 50"),
                        ("open_full", "open 2,000-msg chat: messages() in full")):
        if part in r:
            rows.append(_row(label, r[part], "first_s", GOALS["open"],
                             f" · again {_ms(r[part]['warm_again_s'])}"))
    for label, s in r.get("search", {}).items():
        rows.append(_row(f"search {label} {s['query'].strip()!r} ({s['engine']}, "
                         f"{s['hits']} hits)", s, "first_s", GOALS["search"],
                         f" · again {_ms(s['warm_again_s'])}"))
    rows.append(("database size (file + WAL)", f"{r['size_mb']:,.0f} MB = "
                 f"{r['mb_per_million']:,.0f} MB per 1M messages", ""))
    return format_table(
        f"history benchmark · {d['conversations']:,} chats · {d['messages']:,} messages "
        f"· generated in {d['generate_s']:.0f} s ({made}{d['generated_on']}) · "
        f"median of {RUNS} fresh processes", rows)
