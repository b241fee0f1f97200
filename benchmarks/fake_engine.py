"""A stand-in for EngineClient that writes Markdown replies at a set token rate.

Only for measuring the window itself (painting, storing, item models) far past what the
starter model could write in the same time; everything the user sees of the engine is
measured with the real one.
"""

from __future__ import annotations

import queue
import random
import threading
import time
import uuid
from collections.abc import Callable

from app.core import protocol as p

PIECE_S = 0.03   # the real engine sends a piece at most every 30 ms

_WORDS = [
    "the", "lighthouse", "keeper", "watched", "waves", "roll", "over", "grey", "stones", "while",
    "gulls", "circled", "and", "the", "lamp", "turned", "slowly", "through", "long", "winter",
    "nights", "near", "a", "quiet", "harbour",
]


def markdown_tokens(rng: random.Random, count: int) -> list[str]:
    """About ``count`` word-sized pieces of Markdown: paragraphs, lists, code, emphasis."""
    pieces: list[str] = []
    while len(pieces) < count:
        kind = rng.random()
        if kind < 0.15:
            pieces += ["\n\n```python\n", "def ", "turn", "(lamp):\n", "    return ",
                       "lamp", ".angle ", "+ 1\n", "```\n\n"]
        elif kind < 0.35:
            pieces += [f"\n- **{rng.choice(_WORDS)}** "] + \
                      [rng.choice(_WORDS) + " " for _ in range(rng.randint(3, 8))]
        else:
            pieces += [rng.choice(_WORDS) + " " for _ in range(rng.randint(8, 25))]
            pieces += [f"`{rng.choice(_WORDS)}`. "]
    return pieces[:count]


class FastEngine:
    """Answers ``chat`` with ``tokens`` pieces at ``tokens_per_second``, on one thread."""

    def __init__(self, on_event: Callable[[p.Message], None], tokens_per_second: float = 2000,
                 tokens: int = 400, model_path: str = "fake.gguf") -> None:
        self._on_event = on_event
        self.rate = tokens_per_second
        self.tokens = tokens
        self._model_path = model_path
        self._cancelled: set[str] = set()
        self._jobs: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._rng = random.Random(7)
        self._thread = threading.Thread(target=self._run, name="fast-engine", daemon=True)
        self._thread.start()

    @property
    def pid(self) -> int | None:
        """No process: the stand-in runs on a thread of the GUI process."""
        return None

    def loaded_models(self) -> list[str]:
        """The one model it pretends to have loaded."""
        return [self._model_path]

    def load(self, model: p.ModelSpec) -> str:
        """Answer at once that ``model`` is loaded."""
        request_id = uuid.uuid4().hex
        self._on_event(p.Loaded(request_id=request_id, model_path=model.path, n_ctx=8192,
                                n_threads=0, load_s=0.0, chat_template=True))
        return request_id

    def chat(self, model: p.ModelSpec, messages: list[dict[str, str]], sampling: p.Sampling,
             context_policy: str = "truncate_middle", cache_key: str = "") -> str:
        """Queue a reply (the conversation is not read); its request id."""
        request_id = uuid.uuid4().hex
        self._jobs.put(request_id)
        return request_id

    def cancel(self, request_id: str) -> None:
        """Stop ``request_id`` at its next piece."""
        self._cancelled.add(request_id)

    def unload(self, model_path: str | None = None) -> None:
        """Nothing is loaded."""

    def shutdown(self, timeout: float = 5.0) -> None:
        """Finish the queued replies and end the thread."""
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (request_id := self._jobs.get()) is not None:
            self._reply(request_id)

    def _reply(self, request_id: str) -> None:
        send = self._on_event
        send(p.Started(request_id=request_id, prompt_tokens=100, cached_tokens=90, n_ctx=8192))
        pieces = markdown_tokens(self._rng, self.tokens)
        started = time.perf_counter()
        per_piece = max(1, int(self.rate * PIECE_S))
        made, reason = 0, p.StopReason.LENGTH
        while made < len(pieces):
            if request_id in self._cancelled:
                reason = p.StopReason.STOPPED
                break
            send(p.Delta(request_id=request_id, text="".join(pieces[made:made + per_piece])))
            made += per_piece
            ahead = started + made / self.rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)   # keep to the rate (this thread plays the engine)
        self._cancelled.discard(request_id)
        elapsed = time.perf_counter() - started
        made = min(made, len(pieces))
        send(p.Done(request_id=request_id, stats=p.ReplyStats(
            prompt_tokens=100, cached_tokens=90, completion_tokens=made, ttft_s=0.0,
            tokens_per_second=made / elapsed if elapsed else None, total_s=elapsed,
            stop_reason=reason, n_ctx=8192, context_used=100 + made, n_threads=1)))
