"""A long session in one process: how the GUI process's health moves over hundreds of replies.

- fast: 500 replies of ~400 Markdown tokens from a stand-in engine at 2,000 tok/s
  (``benchmarks/fake_engine.py``) into the real window: many paints and saves, few seconds;
- real: then 50 replies from the starter model through the real engine.

Along the way the user stops, regenerates, steps through versions, edits, switches chats,
opens the model manager and searches (``tests/window_session.py``). RSS, open fds, threads,
references to None and engine processes are taken at the start, the middle and the end; growth
is given per 100 replies after a warm-up.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported

FAST_REPLIES = 500
REAL_REPLIES = 50
WARM_UP = 50           # fast replies before growth is counted (caches fill, dialogs built)
FAST_TOKENS = 400
FAST_RATE = 2000.0     # tokens/s of the stand-in engine


def _user_turn(session: Any, number: int) -> Any:
    """One reply, chosen the way a day of use mixes them."""
    if number % 40 == 39:
        session.browse_models()
    if number % 50 == 25:
        session.search_and_open("lighthouse")
    if number % 25 == 0:
        session.new_chat()
        return session.send(f"Tell me about the lighthouse, part {number}.")
    if number % 10 == 3 and session.chat.messages.rowCount() >= 2:
        return session.regenerate_last()
    messages = session.chat.messages
    if number % 10 == 5 and messages.rowCount() >= 2:
        if messages.row(messages.rowCount() - 1).version[1] > 1:
            session.step_version(-1)
            session.step_version(+1)
        return session.edit_last_question(f"Say it again differently ({number}).")
    if number % 20 == 7:
        return session.send_and_stop(f"Write at length about waves ({number}).")
    if number % 30 == 11 and session.window.conversations.rowCount() > 1:
        session.open_chat(1)
    return session.send(f"And then what happened? ({number})")


def run(model: str | None = None, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Run both phases in one window; return the health samples and growth rates."""
    from PySide6.QtWidgets import QApplication

    from app.core.paths import resolve_paths
    from app.core.starter_model import ensure_starter_model
    from app.ui.application import open_window
    from benchmarks.driver import scratch_dir
    from benchmarks.fake_engine import FastEngine
    from tests.window_session import WindowSession, engine_processes, health

    paths = resolve_paths(scratch_dir()).ensure()
    model_path = model or str(ensure_starter_model(paths, progress=progress))
    app = QApplication.instance() or QApplication([])
    window = open_window(paths, model_path=model_path, fetch_starter=False)
    settings = window.profile.settings
    settings.set("n_ctx", 2048)
    real_engine = window.bridge.client
    window.bridge.client = FastEngine(window.bridge.post, FAST_RATE, FAST_TOKENS, model_path)
    session = WindowSession(window, reply_timeout_s=300)
    samples: dict[str, Any] = {"start": health(0)}
    reply_s: list[float] = []
    try:
        for number in range(FAST_REPLIES):
            began = time.perf_counter()
            _user_turn(session, number)
            reply_s.append(time.perf_counter() - began)
            if session.replies in (WARM_UP, FAST_REPLIES // 2):
                samples["warm" if session.replies == WARM_UP else "middle"] = \
                    health(session.replies)
            if number % 50 == 49:
                progress(f"fast replies: {number + 1}/{FAST_REPLIES}")
        samples["fast_end"] = health(session.replies)
        window.bridge.client.shutdown()
        window.bridge.client = real_engine
        settings.set("max_tokens", 64)
        window.new_chat()
        real_start = session.replies
        for number in range(REAL_REPLIES):
            _user_turn(session, number + 1)
            if number % 10 == 9:
                progress(f"real replies: {number + 1}/{REAL_REPLIES}")
            if number == 0:
                samples["real_warm"] = health(session.replies)
        samples["end"] = health(session.replies)
        engines = engine_processes()
        ids = [message_id for message_id, _ in session.written]
        stored = {m.id: m.content for m in window.profile.history.messages_by_id(ids)}
        lost = sum(1 for message_id, text in session.written if stored.get(message_id) != text)
    finally:
        window.close()
        app.processEvents()
    first, last = reply_s[WARM_UP:WARM_UP + 50], reply_s[-50:]
    return {"benchmark": "soak", "model": model_path, "fast_tokens": FAST_TOKENS,
            "fast_rate": FAST_RATE, "replies": session.replies, "real_from": real_start,
            "samples": {name: dataclasses.asdict(s) for name, s in samples.items()},
            "fast_reply_s_first": statistics.median(first),
            "fast_reply_s_last": statistics.median(last),
            "engines_at_end": engines, "replies_not_stored_as_streamed": lost}


FIELDS = (("rss_mb", "RSS MB", "{:.1f}"), ("fds", "open fds", "{:d}"),
          ("threads", "threads", "{:d}"), ("none_refs", "refs to None", "{:,d}"),
          ("engines", "engine processes", "{:d}"))


def table(r: dict[str, Any]) -> str:
    """Health at each point, and growth per 100 replies in each phase."""
    s = r["samples"]
    points = [("start", "start"), ("warm", f"after {WARM_UP}"),
              ("middle", f"after {FAST_REPLIES // 2}"), ("fast_end", f"after {FAST_REPLIES}"),
              ("real_warm", f"real, after {r['real_from'] + 1}"), ("end", f"end ({r['replies']})")]
    head = ["measure"] + [label for _, label in points] + ["growth/100 fast", "growth/100 real"]
    rows = [head]
    fast_span = s["fast_end"]["replies"] - s["warm"]["replies"]
    real_span = s["end"]["replies"] - s["real_warm"]["replies"]
    for key, label, fmt in FIELDS:
        fast = (s["fast_end"][key] - s["warm"][key]) * 100 / fast_span
        real = (s["end"][key] - s["real_warm"][key]) * 100 / max(1, real_span)
        rows.append([label] + [fmt.format(s[name][key]) for name, _ in points]
                    + [f"{fast:+.2f}", f"{real:+.2f}"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [f"soak benchmark · {FAST_REPLIES} replies of {r['fast_tokens']} tokens at "
             f"{r['fast_rate']:.0f} tok/s (stand-in engine), then {REAL_REPLIES} from "
             f"{os.path.basename(r['model'])}"]
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(2, "-+-".join("-" * w for w in widths))
    lines.append(f"time per fast reply (median), replies {WARM_UP + 1}-{WARM_UP + 50} vs last "
                 f"50: {r['fast_reply_s_first'] * 1000:.0f} vs "
                 f"{r['fast_reply_s_last'] * 1000:.0f} ms")
    lines.append(f"replies whose stored text differs from what streamed: "
                 f"{r['replies_not_stored_as_streamed']}")
    return "\n".join(lines)
