"""Drives an EngineClient from a benchmark and times what the user would see."""

from __future__ import annotations

import queue
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core import protocol as p
from app.engine.client import EngineClient


@dataclass
class Reply:
    """Client-side timings and the engine's own stats for one reply."""

    sent_at: float
    started_at: float = 0.0      # the engine began reading the prompt
    first_at: float = 0.0        # first text arrived
    ended_at: float = 0.0
    text: str = ""
    stats: p.ReplyStats = field(default_factory=p.ReplyStats)

    @property
    def ttft_s(self) -> float:
        return self.first_at - self.sent_at


class Driver:
    """One EngineClient with a queue of its events."""

    def __init__(self, **options: Any) -> None:
        self.events: queue.SimpleQueue[p.Message] = queue.SimpleQueue()
        self.client = EngineClient(self.events.put, **options)

    def send(self, spec: p.ModelSpec, messages: list[dict[str, str]], sampling: p.Sampling,
             cache_key: str = "") -> tuple[str, Reply]:
        reply = Reply(sent_at=time.perf_counter())
        return self.client.chat(spec, messages, sampling, cache_key=cache_key), reply

    def wait(self, request_id: str, reply: Reply, until: type[p.Message] = p.Done) -> Reply:
        """Collect events of ``request_id`` until one of type ``until`` (or the end)."""
        while True:
            event = self.events.get(timeout=900)
            if getattr(event, "request_id", None) != request_id:
                continue
            now = time.perf_counter()
            if isinstance(event, p.Error):
                raise RuntimeError(event.message)
            if isinstance(event, p.Started):
                reply.started_at = now
            elif isinstance(event, p.Delta):
                reply.first_at = reply.first_at or now
                reply.text += event.text
            elif isinstance(event, p.Done):
                reply.ended_at, reply.stats = now, event.stats
                return reply
            if isinstance(event, until):
                return reply

    def ask(self, spec: p.ModelSpec, messages: list[dict[str, str]], sampling: p.Sampling,
            cache_key: str = "") -> Reply:
        return self.wait(*self.send(spec, messages, sampling, cache_key))

    def close(self) -> None:
        self.client.shutdown()


def percentile(values: list[float], share: float) -> float:
    """The ``share`` percentile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def starter_model(progress: Any) -> str:
    """The starter model, in a throw-away profile (the download cache makes this quick)."""
    import tempfile

    from app.core.paths import resolve_paths
    from app.core.starter_model import ensure_starter_model

    profile = resolve_paths(tempfile.mkdtemp(prefix="hearth-bench-")).ensure()
    return str(ensure_starter_model(profile, progress=progress))


def scratch_dir() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="hearth-bench-"))


def format_table(title: str, rows: list[tuple[str, str, str]]) -> str:
    """A title line, then rows of (measure, result, goal) as aligned text columns."""
    widths = [max(len(row[i]) for row in [("measure", "result", "goal"), *rows])
              for i in range(3)]
    lines = [title, " | ".join(h.ljust(w) for h, w in zip(("measure", "result", "goal"), widths,
                                                         strict=True)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)
