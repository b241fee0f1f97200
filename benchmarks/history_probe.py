"""One timing of the history benchmark, in the fresh process it needs.

``python -m benchmarks.history_probe NAME PROFILE_DIR [ARG]`` prints one JSON object: the
figures of probe NAME and ``done_at`` (``time.monotonic()`` when the awaited thing was ready,
so the caller can time from the launch). Imports happen inside the probes, since what they
cost is part of what "start" measures.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any


def _open_profile(folder: str, spent: dict[str, float]) -> Any:
    """``Profile.open`` on ``folder``, timing it and its two database steps."""
    import app.chat.profile as profile_module
    from app.core.paths import resolve_paths
    from app.storage.history import History

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            began = time.perf_counter()
            try:
                return fn(*args)
            finally:
                spent[name] = time.perf_counter() - began
        return wrapper

    profile_module.open_database = timed("open_database_s", profile_module.open_database)
    History.recover_interrupted = timed("recover_s", History.recover_interrupted)
    began = time.perf_counter()
    profile = profile_module.Profile.open(resolve_paths(folder))
    spent["open_s"] = time.perf_counter() - began
    return profile


def start_storage(folder: str, _arg: str) -> dict[str, Any]:
    """Process start → first page of the list, without Qt."""
    spent: dict[str, float] = {}
    profile = _open_profile(folder, spent)
    began = time.perf_counter()
    page = profile.history.conversations(limit=100)
    done_at = time.monotonic()
    assert len(page) == 100
    return spent | {"list_s": time.perf_counter() - began, "done_at": done_at}


def start_window(folder: str, _arg: str) -> dict[str, Any]:
    """Process start → the real window's conversation list has rows (offscreen)."""
    from PySide6.QtWidgets import QApplication

    from app.ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    spent: dict[str, float] = {}
    profile = _open_profile(folder, spent)
    began = time.perf_counter()
    window = MainWindow(profile, fetch_starter=False)
    window.show()
    deadline = time.monotonic() + 120
    while window.conversations.rowCount() == 0 and time.monotonic() < deadline:
        app.processEvents()  # a list loaded in the background arrives through events
    done_at = time.monotonic()
    rows = window.conversations.rowCount()
    assert rows > 0
    return spent | {"window_s": time.perf_counter() - began, "rows": rows, "done_at": done_at}


def _opened(folder: str, conversation: str, load: Callable[[Any, int], list[Any]]
            ) -> dict[str, Any]:
    profile = _open_profile(folder, {})
    cid = int(conversation)
    began = time.perf_counter()
    messages = load(profile.history, cid)
    first = time.perf_counter() - began
    done_at = time.monotonic()
    began = time.perf_counter()
    load(profile.history, cid)
    return {"first_s": first, "again_s": time.perf_counter() - began,
            "messages": len(messages), "done_at": done_at}


def open_lazy(folder: str, conversation: str) -> dict[str, Any]:
    """Open a conversation as a window showing its last page would."""
    return _opened(folder, conversation,
                   lambda history, cid: history.messages_by_id(history.path_ids(cid)[-50:]))


def open_full(folder: str, conversation: str) -> dict[str, Any]:
    """Read a conversation's whole active path."""
    return _opened(folder, conversation, lambda history, cid: history.messages(cid))


_RAW_SEARCH = ("SELECT m.id, snippet(messages_fts, 0, '[', ']', '…', 12) FROM messages_fts "
               "JOIN messages m ON m.id = messages_fts.rowid WHERE messages_fts MATCH ? "
               "ORDER BY m.id DESC LIMIT 50")


def search(folder: str, query: str) -> dict[str, Any]:
    """One search for ``query``, as typed (app.storage.search, else the raw FTS query)."""
    profile = _open_profile(folder, {})
    try:
        from app.storage.search import search as app_search

        def find() -> list[Any]:
            return app_search(profile.history, query)
        engine = "search()"
    except ImportError:
        fts = " ".join(f'"{word}"' for word in query.split())

        def find() -> list[Any]:
            with profile.history.sessions() as session:
                return session.connection().exec_driver_sql(_RAW_SEARCH, (fts,)).fetchall()
        engine = "raw FTS"
    began = time.perf_counter()
    hits = find()
    first = time.perf_counter() - began
    done_at = time.monotonic()
    began = time.perf_counter()
    find()
    return {"first_s": first, "again_s": time.perf_counter() - began, "hits": len(hits),
            "engine": engine, "done_at": done_at}


PROBES = {"start_storage": start_storage, "start_window": start_window,
          "open_lazy": open_lazy, "open_full": open_full, "search": search}


def main(argv: list[str]) -> int:
    """Run the probe named in ``argv`` and print its JSON line."""
    name, folder, arg = (argv + [""])[:3]
    result = PROBES[name](folder, arg)
    print(json.dumps(result), flush=True)
    os._exit(0)  # skip tearing down Qt and the engine pool: not part of any timing


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
