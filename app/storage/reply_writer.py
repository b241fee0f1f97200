"""Saving a reply while it streams, so a crash loses at most the last moment of it."""

from __future__ import annotations

import time
from collections.abc import Callable

from app.core.protocol import ReplyStats, StopReason
from app.storage.history import History
from app.storage.schema import MessageStatus

SAVE_INTERVAL_S = 0.5

_STATUS_FOR_STOP = {
    StopReason.END: MessageStatus.COMPLETE,
    StopReason.LENGTH: MessageStatus.COMPLETE,
    StopReason.STOPPED: MessageStatus.STOPPED,
    StopReason.ERROR: MessageStatus.ERROR,
    StopReason.CONTEXT_FULL: MessageStatus.ERROR,
}


class ReplyWriter:
    """Writes one assistant reply to the history as its text arrives.

    The message row is created with the first text and re-saved at most every
    ``interval`` seconds (so at least once a second while text flows); ``finish`` and
    ``fail`` store the final state.
    """

    def __init__(self, history: History, conversation_id: int, parent_id: int | None,
                 model_path: str, interval: float = SAVE_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._history = history
        self._conversation_id = conversation_id
        self._parent_id = parent_id
        self._model_path = model_path
        self._interval = interval
        self._clock = clock
        self._parts: list[str] = []
        self._saved_at = 0.0
        self.message_id: int | None = None

    @property
    def text(self) -> str:
        """The reply so far."""
        return "".join(self._parts)

    def append(self, text: str) -> None:
        """Add reply text; save it when the interval has passed."""
        if not text:
            return
        self._parts.append(text)
        now = self._clock()
        if self.message_id is None:
            self.message_id = self._history.add_message(
                self._conversation_id, "assistant", text, status=MessageStatus.STREAMING,
                model_path=self._model_path, parent_id=self._parent_id).id
            self._saved_at = now
        elif now - self._saved_at >= self._interval:
            self._history.save_text(self.message_id, self.text)
            self._saved_at = now

    def finish(self, stats: ReplyStats) -> None:
        """Store the final text and statistics; a reply with no text stores nothing."""
        if self.message_id is None:
            return
        self._history.finish_message(self.message_id, self.text,
                                     _STATUS_FOR_STOP.get(stats.stop_reason,
                                                          MessageStatus.COMPLETE), stats)

    def fail(self, error: str) -> None:
        """Store what arrived before a failure, marked as an error with its reason."""
        if self.message_id is None:
            return
        self._history.finish_message(self.message_id, self.text, MessageStatus.ERROR,
                                     error=error, stop_reason=StopReason.ERROR)
