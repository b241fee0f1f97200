"""The engine process: owns one llama.cpp model and answers protocol commands.

A reader thread receives commands so that ``cancel`` is seen while a reply is being
generated; everything else runs in order on the main thread, which alone touches the
model (``Llama`` is not thread-safe).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import signal
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core import network_audit
from app.core import protocol as p
from app.core.errors import ContextFullError, HearthError, ModelFileError, SettingsError

if TYPE_CHECKING:
    from app.engine.session import ModelSession

log = logging.getLogger("hearth.engine")


def _error_code(exc: HearthError) -> str:
    from app.engine.chat_templates import TemplateError

    for kind, code in ((ContextFullError, p.ErrorCode.CONTEXT_FULL),
                       (ModelFileError, p.ErrorCode.MODEL_FILE),
                       (SettingsError, p.ErrorCode.BAD_SETTINGS),
                       (TemplateError, p.ErrorCode.TEMPLATE)):
        if isinstance(exc, kind):
            return code
    return p.ErrorCode.INTERNAL


def bug_message(exc: BaseException, log_path: str | None = None) -> str:
    """What the user reads about a bug in the engine (its traceback goes to the log, which
    the GUI process writes at ``log_path``)."""
    text = " ".join(str(exc).split())  # one line, however the exception wrapped it
    what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    where = f": {log_path}" if log_path else " (hearth.log)"
    return (f"The model engine hit an unexpected problem ({what[:300]}). This is a bug in "
            f"Hearth; the details are in Hearth's log{where}. The engine keeps running: "
            "try again, or choose other settings.")


class EngineWorker:
    """Runs commands from the GUI one at a time and sends events back."""

    def __init__(self, events: Connection, options: dict[str, Any]) -> None:
        self._events = events
        self._send_lock = threading.Lock()
        self._cancelled: set[str] = set()
        self._cancel_all = threading.Event()
        self._options = options
        self._session: ModelSession | None = None  # imported lazily with llama_cpp

    def send(self, message: p.Message) -> None:
        """Send an event to the GUI process."""
        wire = p.encode(message)
        with self._send_lock:
            self._events.send(wire)

    def cancel(self, request_id: str) -> None:
        """Called from the reader thread: stop ``request_id`` at its next token."""
        self._cancelled.add(request_id)

    def cancel_everything(self) -> None:
        """Called from the reader thread on shutdown: stop whatever runs."""
        self._cancel_all.set()

    def _is_cancelled(self, request_id: str) -> bool:
        return request_id in self._cancelled or self._cancel_all.is_set()

    def handle(self, command: p.Message) -> bool:
        """Run one command; return False when the process should exit."""
        if isinstance(command, p.Shutdown):
            return False
        request_id = getattr(command, "request_id", "")
        try:
            if isinstance(command, p.Load):
                self._ensure_loaded(command.model, request_id, answer_if_loaded=True)
            elif isinstance(command, p.Chat):
                self._chat(command)
            elif isinstance(command, p.Unload):
                self.unload()
            elif isinstance(command, p.Forget):
                self.forget(list(command.cache_keys))
        except HearthError as exc:
            self.send(p.Error(request_id=request_id, code=_error_code(exc), message=str(exc)))
        except Exception as exc:  # a bug: report it (the GUI logs it), keep the engine alive
            details = traceback.format_exc()
            sys.stderr.write(details)
            self.send(p.Error(request_id=request_id, code=p.ErrorCode.INTERNAL,
                              message=bug_message(exc, self._options.get("log_path")),
                              details=details))
        finally:
            self._cancelled.discard(request_id)
        return True

    def _ensure_loaded(self, spec: p.ModelSpec, request_id: str,
                       answer_if_loaded: bool = False) -> None:
        from app.core.generation_config import check_model_spec
        from app.engine.session import ModelSession

        check_model_spec(spec)
        if self._session is not None and self._session.serves(spec):
            if answer_if_loaded:   # every load request is answered, or it stays open
                self.send(dataclasses.replace(self._session.loaded_event(request_id),
                                              load_s=0.0))
            return
        self.unload()
        state_dir = self._options.get("state_dir")
        self._session = ModelSession(spec, Path(state_dir) if state_dir else None,
                                     int(self._options.get("state_budget_bytes", 0)))
        self.send(self._session.loaded_event(request_id))

    def forget(self, keys: list[str]) -> None:
        """Drop deleted conversations' state: in the loaded model, and every file of it."""
        from app.engine.state_files import remove_states

        if self._session is not None:
            self._session.forget(keys)
        state_dir = self._options.get("state_dir")
        remove_states(Path(state_dir) if state_dir else None, keys)

    def unload(self) -> None:
        """Save the conversation state and free the model."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def _chat(self, command: p.Chat) -> None:
        rid = command.request_id
        if self._is_cancelled(rid):
            self.send(p.Done(request_id=rid, stats=p.ReplyStats(stop_reason=p.StopReason.STOPPED)))
            return
        self._ensure_loaded(command.model, rid)
        assert self._session is not None
        stats = self._session.reply(command, lambda: self._is_cancelled(rid), self.send)
        self.send(p.Done(request_id=rid, stats=stats))


def _read_commands(commands: Connection, worker: EngineWorker,
                   inbox: queue.SimpleQueue[p.Message]) -> None:
    while True:
        try:
            wire = commands.recv()
        except (EOFError, OSError):  # the GUI process is gone: stop too
            worker.cancel_everything()
            inbox.put(p.Shutdown())
            return
        try:
            command = p.decode(wire)
        except p.ProtocolError as exc:
            request_id = wire.get("request_id", "") if isinstance(wire, dict) else ""
            worker.send(p.Error(request_id=str(request_id), code=p.ErrorCode.PROTOCOL,
                                message=f"The engine did not understand a request: {exc}"))
            continue
        if isinstance(command, p.Cancel):
            worker.cancel(command.request_id)
            continue
        if isinstance(command, p.Shutdown):
            worker.cancel_everything()
        inbox.put(command)


def main(commands: Connection, events: Connection, options: dict[str, Any] | None = None
         ) -> None:
    """Entry point of the engine process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the GUI's to handle
    network_audit.install_from_environment()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="engine %(levelname)s %(message)s")
    worker = EngineWorker(events, options or {})
    inbox: queue.SimpleQueue[p.Message] = queue.SimpleQueue()
    threading.Thread(target=_read_commands, args=(commands, worker, inbox),
                     name="engine-commands", daemon=True).start()
    try:
        while worker.handle(inbox.get()):
            pass
    finally:
        worker.unload()
        events.close()
