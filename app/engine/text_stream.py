"""Turning token bytes into text deltas: whole UTF-8 characters, stop strings cut off."""

from __future__ import annotations

import codecs


class TextStream:
    """Accumulates token bytes and releases text that is safe to show.

    Bytes of a multi-byte character split across tokens are held until complete, and
    text that could be the start of a stop string is held until it is known not to be.
    """

    def __init__(self, stop_strings: list[str]) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = [s for s in stop_strings if s]
        self._longest = max((len(s) for s in self._stops), default=0)
        self._held = ""
        self.stopped = False

    def feed(self, data: bytes) -> str:
        """Add a token's bytes; return the text that can be released now."""
        if self.stopped:
            return ""
        text = self._decoder.decode(data)
        if not self._stops:
            return text
        return self._release(self._held + text)

    def finish(self) -> str:
        """Return whatever is still held at the end of the reply."""
        tail = self._decoder.decode(b"", final=True)
        if self.stopped:
            return ""
        if not self._stops:
            return tail
        held, self._held = self._held + tail, ""
        cut = self._first_stop(held)
        if cut is not None:
            self.stopped = True
            return held[:cut]
        return held

    def _first_stop(self, text: str) -> int | None:
        found = [i for i in (text.find(stop) for stop in self._stops) if i != -1]
        return min(found) if found else None

    def _release(self, text: str) -> str:
        cut = self._first_stop(text)
        if cut is not None:
            self.stopped = True
            self._held = ""
            return text[:cut]
        keep = 0
        for size in range(1, min(self._longest, len(text)) + 1):
            if any(stop.startswith(text[-size:]) for stop in self._stops):
                keep = size
        self._held = text[len(text) - keep:] if keep else ""
        return text[:len(text) - keep]
