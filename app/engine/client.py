"""The GUI-side handle on the engine processes (no llama_cpp, no Qt).

One engine process per loaded model, kept in a pool under a memory budget (least recently
used unloaded first), so switching between models that fit is instant after the first load.
Commands are sent from the caller's thread; events are received by one reader thread per
engine process and passed, in order, to ``on_event``. If a process dies, every request
still open in it gets an ``error`` event, and the next command starts a fresh process.

Starting, loading and unloading engines never blocks the caller: ``chat`` and ``load`` hand
their command to one pool thread, which starts engines and evicts others in the order the
commands came. An engine that is writing a reply is never evicted: the pool thread waits until
its reply ends (another model's command waits with it), so a model switch during a reply takes
effect after the reply.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import queue
import signal
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import psutil

from app.core import protocol as p
from app.engine import worker
from app.engine.load_plan import LoadPlan, plan_load, replan
from app.engine.worker import bug_message

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

    def __init__(self, on_event: EventHandler, options: dict[str, Any],
                 memory_bytes: int = 0) -> None:
        ctx = multiprocessing.get_context("spawn")
        command_out, self._commands = ctx.Pipe(duplex=False)
        self._events, events_in = ctx.Pipe(duplex=False)
        self.process: BaseProcess = ctx.Process(
            target=worker.main, args=(command_out, events_in, options), name="hearth-engine",
            daemon=True)
        self.process.start()
        command_out.close()  # the child's ends: closing ours lets EOF reach each side
        events_in.close()
        self._on_event = on_event
        self.memory_bytes = memory_bytes  # the estimate it was started with
        self.requested: p.ModelSpec | None = None  # the spec last asked of it...
        self.plan: LoadPlan | None = None          # ...and as sent: its context decided
        self._open: dict[str, str] = {}  # request id -> command type
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when a request ends
        self._closing = False
        self._reader = threading.Thread(target=self._read, name="engine-events", daemon=True)
        self._reader.start()

    def owns(self, request_id: str) -> bool:
        """True if ``request_id`` was sent to this process and is still open."""
        with self._lock:
            return request_id in self._open

    @property
    def alive(self) -> bool:
        return self.process.is_alive() and self._reader.is_alive()

    @property
    def busy(self) -> bool:
        """True while a reply (or load) sent to this process is still open."""
        with self._lock:
            return bool(self._open)

    def wait_idle(self, give_up: threading.Event) -> None:
        """Block until no request is open here (or the process died, or ``give_up``)."""
        with self._idle:
            while self._open and self._reader.is_alive() and not give_up.is_set():
                self._idle.wait(0.5)   # the timeout only bounds a missed ``give_up``

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
            if isinstance(message, p.Error) and message.details:
                log.error("Engine bug (request %s): %s\n%s", message.request_id,
                          message.message, message.details.rstrip())
            with self._lock:  # a request is open until its last event
                kind = self._open.get(getattr(message, "request_id", ""))
                if isinstance(message, (p.Done, p.Error)) or (
                        isinstance(message, p.Loaded) and kind == p.Load.TYPE):
                    self._open.pop(message.request_id, None)
                    self._idle.notify_all()
            self._on_event(message)
        self._report_death()

    def _report_death(self) -> None:
        self.process.join(timeout=5)
        with self._lock:
            orphans, self._open = sorted(self._open), {}
            self._idle.notify_all()
        if self._closing and not orphans:
            return
        if self._closing:
            text = "The reply ended because its model was unloaded."
        else:
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
        with contextlib.suppress(OSError, ValueError):  # it died already
            self.send(p.Shutdown())
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        self._commands.close()
        self._reader.join(timeout)


class _Closing(Exception):
    """The client is shutting down: the command is dropped."""


class EngineClient:
    """Drives the engine processes: chat, load, cancel, unload, shut down.

    ``on_event`` is called on a background thread with every event, in the order each
    engine sent them. ``state_dir`` (with ``state_budget_bytes``) lets engines keep
    conversations' KV states on disk; ``memory_budget_bytes`` bounds the models kept loaded
    (0: half the machine's RAM). ``log_path``: where this process logs, named to the user
    when an engine hits a bug (its traceback comes with the error event and is logged here).
    """

    def __init__(self, on_event: EventHandler, state_dir: Path | None = None,
                 state_budget_bytes: int = 0, memory_budget_bytes: int = 0,
                 log_path: Path | None = None) -> None:
        self._on_event = on_event
        self._log_path = str(log_path) if log_path else None
        self._options = {"state_dir": str(state_dir) if state_dir else None,
                         "state_budget_bytes": state_budget_bytes,
                         "log_path": self._log_path}
        self.memory_budget_bytes = memory_budget_bytes or psutil.virtual_memory().total // 2
        self._pool: OrderedDict[str, _EngineProcess] = OrderedDict()  # model path -> engine
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[p.ModelSpec, p.Chat | p.Load] | None] = \
            queue.SimpleQueue()
        self._queued: set[str] = set()      # request ids not yet sent to an engine
        self._cancel_early: set[str] = set()  # ... of which the caller cancelled these
        self._closing = threading.Event()
        self._pool_thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """Process id of the most recently used live engine, if any."""
        with self._lock:
            live = [proc for proc in self._pool.values() if proc.alive]
        return live[-1].process.pid if live else None

    def loaded_models(self) -> list[str]:
        """Paths of the models with a live engine, least recently used first."""
        with self._lock:
            return [path for path, proc in self._pool.items() if proc.alive]

    def chat(self, model: p.ModelSpec, messages: list[dict[str, str]], sampling: p.Sampling,
             context_policy: str = "truncate_middle", cache_key: str = "") -> str:
        """Start a reply; return its request id (events carry the same id)."""
        request_id = uuid.uuid4().hex
        self._enqueue(model, p.Chat(request_id=request_id, model=model, messages=messages,
                                    sampling=sampling, context_policy=context_policy,
                                    cache_key=cache_key))
        return request_id

    def load(self, model: p.ModelSpec) -> str:
        """Load a model ahead of the first message; return the request id."""
        request_id = uuid.uuid4().hex
        self._enqueue(model, p.Load(request_id=request_id, model=model))
        return request_id

    def _enqueue(self, model: p.ModelSpec, command: p.Chat | p.Load) -> None:
        with self._lock:
            if self._pool_thread is None:
                self._pool_thread = threading.Thread(target=self._run_pool,
                                                     name="engine-pool", daemon=True)
                self._pool_thread.start()
            self._queued.add(command.request_id)
        self._jobs.put((model, command))

    def _run_pool(self) -> None:
        """The pool thread: send each command, starting and evicting engines for it."""
        while (job := self._jobs.get()) is not None:
            model, command = job
            if self._closing.is_set():
                continue
            try:
                self._deliver(model, command)
            except _Closing:
                continue
            except (OSError, ValueError) as exc:  # the engine could not start
                log.error("Could not start an engine for %s: %s", model.path, exc)
                with self._lock:
                    self._queued.discard(command.request_id)
                    self._pool.pop(model.path, None)
                self._on_event(p.Error(
                    request_id=command.request_id, code=p.ErrorCode.ENGINE_CRASHED,
                    message=f"The model engine could not be started ({exc}). Close other "
                            "programs or restart Hearth, then try again."))
            except Exception as exc:  # a bug: it must not leave the request unanswered
                log.exception("Engine pool failed on request %s", command.request_id)
                with self._lock:
                    self._queued.discard(command.request_id)
                self._on_event(p.Error(request_id=command.request_id,
                                       code=p.ErrorCode.INTERNAL,
                                       message=bug_message(exc, self._log_path)))

    def _deliver(self, model: p.ModelSpec, command: p.Chat | p.Load) -> None:
        for attempt in (1, 2):
            proc = self._engine_for(model)
            planned = dataclasses.replace(command, model=self._planned_spec(proc, model))
            with self._lock:
                try:
                    proc.send(planned)
                except (OSError, ValueError):  # died between the check and the send
                    self._pool.pop(model.path, None)
                    if attempt == 2:
                        raise
                    continue
                self._queued.discard(command.request_id)
                if command.request_id in self._cancel_early:
                    self._cancel_early.discard(command.request_id)
                    proc.send(p.Cancel(request_id=command.request_id))
                return

    def _engine_for(self, model: p.ModelSpec) -> _EngineProcess:
        """The live engine for ``model``'s file, started (and others evicted) as needed."""
        with self._lock:
            proc = self._pool.get(model.path)
            if proc is not None and proc.alive:
                self._pool.move_to_end(model.path)
                return proc
            self._pool.pop(model.path, None)
        plan = plan_load(model)
        for victim in self._victims(plan.memory_bytes):
            victim.wait_idle(self._closing)   # a reply in progress is never cut off
            with self._lock:
                for path, proc in list(self._pool.items()):
                    if proc is victim:
                        log.info("Unloading %s to make room for %s", path, model.path)
                        del self._pool[path]
            victim.stop(timeout=5)
        if self._closing.is_set():
            raise _Closing
        proc = _EngineProcess(self._on_event, self._options, plan.memory_bytes)
        proc.requested, proc.plan = model, plan
        with self._lock:
            self._pool[model.path] = proc
        return proc

    @staticmethod
    def _planned_spec(proc: _EngineProcess, model: p.ModelSpec) -> p.ModelSpec:
        """``model`` as ``proc`` is sent it: with the context planned for it (pool thread)."""
        assert proc.plan is not None and proc.requested is not None  # set by _engine_for
        if model != proc.requested:   # other settings: the engine reloads in place
            proc.plan = replan(proc.plan, proc.requested, model, proc.memory_bytes)
        proc.requested, proc.memory_bytes = model, proc.plan.memory_bytes
        return proc.plan.spec

    def _victims(self, need: int) -> list[_EngineProcess]:
        """Engines to stop so that ``need`` more bytes fit: idle ones first, then LRU."""
        with self._lock:
            engines = list(self._pool.values())
        used = sum(proc.memory_bytes for proc in engines)
        victims = []
        for proc in sorted(engines, key=lambda e: e.busy):  # stable: LRU order kept
            if used + need <= self.memory_budget_bytes:
                break
            victims.append(proc)
            used -= proc.memory_bytes
        return victims

    def cancel(self, request_id: str) -> None:
        """Stop a reply at its next token (no-op if it already ended)."""
        with self._lock:
            if request_id in self._queued:   # not sent yet: cancelled as it is sent
                self._cancel_early.add(request_id)
                return
            for proc in self._pool.values():
                if proc.alive and proc.owns(request_id):
                    with contextlib.suppress(OSError, ValueError):  # it died: nothing to stop
                        proc.send(p.Cancel(request_id=request_id))

    def forget(self, cache_keys: list[str]) -> None:
        """Deleted conversations: every engine drops their state, and their files go."""
        from app.engine.state_files import remove_states

        if not cache_keys:
            return
        with self._lock:
            for proc in self._pool.values():
                if proc.alive:
                    with contextlib.suppress(OSError, ValueError):  # died: saves nothing more
                        proc.send(p.Forget(cache_keys=tuple(cache_keys)))
        state_dir = self._options.get("state_dir")
        remove_states(Path(str(state_dir)) if state_dir else None, cache_keys)

    def unload(self, model_path: str | None = None) -> None:
        """Stop the engine of ``model_path`` (all engines when None), freeing its memory."""
        with self._lock:
            paths = [model_path] if model_path else list(self._pool)
            stopping = [self._pool.pop(path) for path in paths if path in self._pool]
        for proc in stopping:
            proc.stop(timeout=5)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every engine process and wait for them (commands not yet sent are dropped)."""
        self._closing.set()
        self._jobs.put(None)
        thread = self._pool_thread
        if thread is not None:
            thread.join(timeout)
        with self._lock:
            stopping, self._pool = list(self._pool.values()), OrderedDict()
            if thread is None or not thread.is_alive():   # usable again afterwards
                self._pool_thread = None
                self._closing.clear()
        for proc in stopping:
            proc.stop(timeout)

