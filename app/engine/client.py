"""The GUI-side handle on the engine process (no llama_cpp, no Qt).

Commands are sent from the caller's thread; events are received by one reader thread per
engine process and passed, in order, to ``on_event``. If the process dies, every request
still open gets an ``error`` event, and the next command starts a fresh process.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import uuid
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from app.core import protocol as p
from app.engine import worker

log = logging.getLogger(__name__)

EventHandler = Callable[[p.Message], None]


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "stopped responding"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class _EngineProcess:
    """One engine child process, its two pipes and its reader thread."""

    def __init__(self, on_event: EventHandler) -> None:
        ctx = multiprocessing.get_context("spawn")
        command_out, self._commands = ctx.Pipe(duplex=False)
        self._events, events_in = ctx.Pipe(duplex=False)
        self.process: BaseProcess = ctx.Process(
            target=worker.main, args=(command_out, events_in), name="hearth-engine",
            daemon=True)
        self.process.start()
        command_out.close()  # the child's ends: closing ours lets EOF reach each side
        events_in.close()
        self._on_event = on_event
        self._open: dict[str, str] = {}  # request id -> command type
        self._lock = threading.Lock()
        self._closing = False
        self._reader = threading.Thread(target=self._read, name="engine-events", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        return self.process.is_alive() and self._reader.is_alive()

    def send(self, message: p.Message) -> None:
        """Send a command; remember requests that will answer with done or error."""
        with self._lock:
            if isinstance(message, (p.Chat, p.Load)):
                self._open[message.request_id] = message.TYPE
            self._commands.send(p.encode(message))

    def _read(self) -> None:
        events: Connection = self._events
        while True:
            try:
                message = p.decode(events.recv())
            except (EOFError, OSError):
                break
            except p.ProtocolError as exc:
                log.error("Engine sent a malformed event: %s", exc)
                continue
            with self._lock:  # a request is open until its last event
                kind = self._open.get(getattr(message, "request_id", ""))
                if isinstance(message, (p.Done, p.Error)) or (
                        isinstance(message, p.Loaded) and kind == p.Load.TYPE):
                    self._open.pop(message.request_id, None)
            self._on_event(message)
        self._report_death()

    def _report_death(self) -> None:
        self.process.join(timeout=5)
        with self._lock:
            orphans, self._open = sorted(self._open), {}
        if self._closing and not orphans:
            return
        how = _describe_exit(self.process.exitcode)
        log.error("Engine process %s %s", self.process.pid, how)
        text = (f"The model engine {how} (the model may be damaged or too large for "
                "this computer's memory). What was written so far is saved; the next "
                "message starts a new engine.")
        for request_id in orphans:
            self._on_event(p.Error(request_id=request_id, code=p.ErrorCode.ENGINE_CRASHED,
                                   message=text))

    def stop(self, timeout: float) -> None:
        """Ask the process to exit; kill it if it does not within ``timeout``."""
        self._closing = True
        try:
            self.send(p.Shutdown())
        except (OSError, ValueError):
            pass
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        self._commands.close()
        self._reader.join(timeout)


class EngineClient:
    """Drives the engine process: chat, load, cancel, unload, shut down.

    ``on_event`` is called on a background thread with every event, in the order the
    engine sent them. A dead engine is replaced on the next command.
    """

    def __init__(self, on_event: EventHandler) -> None:
        self._on_event = on_event
        self._process: _EngineProcess | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """Process id of the running engine, if any."""
        proc = self._process
        return proc.process.pid if proc and proc.alive else None

    def _send(self, message: p.Message) -> None:
        with self._lock:
            if self._process is None or not self._process.alive:
                self._process = _EngineProcess(self._on_event)
            try:
                self._process.send(message)
            except (OSError, ValueError):  # died between the check and the send
                self._process = _EngineProcess(self._on_event)
                self._process.send(message)

    def chat(self, model: p.ModelSpec, messages: list[dict[str, str]],
             sampling: p.Sampling) -> str:
        """Start a reply; return its request id (events carry the same id)."""
        request_id = uuid.uuid4().hex
        self._send(p.Chat(request_id=request_id, model=model, messages=messages,
                          sampling=sampling))
        return request_id

    def load(self, model: p.ModelSpec) -> str:
        """Load a model ahead of the first message; return the request id."""
        request_id = uuid.uuid4().hex
        self._send(p.Load(request_id=request_id, model=model))
        return request_id

    def cancel(self, request_id: str) -> None:
        """Stop a reply at its next token (no-op if it already ended)."""
        with self._lock:
            if self._process is not None and self._process.alive:
                try:
                    self._process.send(p.Cancel(request_id=request_id))
                except (OSError, ValueError):
                    pass

    def unload(self) -> None:
        """Free the model's memory (the process stays)."""
        with self._lock:
            if self._process is not None and self._process.alive:
                self._process.send(p.Unload())

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the engine process and wait for it."""
        with self._lock:
            proc, self._process = self._process, None
        if proc is not None:
            proc.stop(timeout)
