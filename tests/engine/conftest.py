"""Helpers for driving the real engine process without Qt."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter

from app.core import protocol as p
from app.engine.client import EngineClient


class EventLog:
    """Collects engine events from the client's reader thread."""

    def __init__(self) -> None:
        self.inbox: queue.SimpleQueue[p.Message] = queue.SimpleQueue()
        self.seen: list[p.Message] = []

    def __call__(self, event: p.Message) -> None:
        self.inbox.put(event)

    def next(self, timeout: float) -> p.Message:
        event = self.inbox.get(timeout=timeout)
        self.seen.append(event)
        return event

    def until_end(self, request_id: str, timeout: float = 120.0) -> list[p.Message]:
        """Events of ``request_id`` up to and including its done or error."""
        deadline = time.monotonic() + timeout
        events = []
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if getattr(event, "request_id", None) != request_id:
                continue
            events.append(event)
            if isinstance(event, (p.Done, p.Error)):
                return events

    def until_loaded(self, request_id: str, timeout: float = 120.0) -> p.Loaded:
        """The ``loaded`` answer to ``request_id`` (fails on an error)."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if getattr(event, "request_id", None) == request_id:
                assert isinstance(event, p.Loaded), event
                return event

    def first_delta(self, request_id: str, timeout: float = 120.0) -> p.Delta:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if isinstance(event, p.Delta) and event.request_id == request_id:
                return event
            assert not isinstance(event, p.Error), event


@pytest.fixture
def engine() -> Iterator[tuple[EngineClient, EventLog]]:
    events = EventLog()
    client = EngineClient(events)
    yield client, events
    client.shutdown()


def text_of(events: list[p.Message]) -> str:
    return "".join(e.text for e in events if isinstance(e, p.Delta))


LONG_PROMPT = [{"role": "user", "content": "Count from 1 to 400, separated by commas."}]


def write_unknown_architecture(path: Path) -> Path:
    """A well-formed GGUF of an architecture llama.cpp does not know ("foobar")."""
    writer = GGUFWriter(path, "foobar")
    writer.add_tensor("weights", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
