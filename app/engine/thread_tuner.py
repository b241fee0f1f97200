"""Automatic thread counts: chosen per reply from the CPU that is free, adapted per token.

llama.cpp splits every token's work over its threads and then waits for the slowest, and its
threads spin while they wait. When another program keeps a core busy, a thread that shares
that core makes every token late: on 2 cores with one busy, 2 threads ran at 24.8 tok/s and
1 thread at 51.0 (idle: 64.9 and 43.4). So the count is not fixed:

- at the start of a reply it is the number of cores other programs left free (measured
  over about the last second, our own CPU time left out);
- during the reply the speed of each window of tokens is measured; now and then (more
  rarely while it keeps confirming the choice) one window runs with one thread more or less,
  and the faster count is kept. A sudden slow-down of the current count triggers a new try
  at once, so a program that starts mid-reply is answered within a few windows.

The tuner only decides; ``generation.py`` applies its decisions with ``llama_set_n_threads``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import psutil

WINDOW_TOKENS = 8          # tokens per measured window
FIRST_PROBE_AFTER = 4      # windows before the first try of another count
LONGEST_PROBE_GAP = 64     # windows: the tries' spacing doubles up to this while they fail
BETTER_BY = 1.05           # another count must be this much faster to be kept
COLLAPSE_BELOW = 0.7       # a window this much slower than the count's recent best: try again
GIVE_UP_BELOW = 0.77       # a try running this much slower than the count it left ends early
MIN_SAMPLE_S = 0.25        # shorter CPU samples are too noisy; the last estimate is kept


class LoadMeter(Protocol):
    """Anything that says how many cores other programs keep busy (tests use a fixed one)."""

    def others_busy(self) -> float:
        """Cores busy with other programs' work, recently."""


class CpuMeter:
    """How many cores other processes kept busy in the last second or so.

    A thread samples the system's and this process's CPU times a few times a second, so a
    reply can start with a fresh figure without waiting for one (``close`` stops it).
    """

    def __init__(self, window_s: float = 1.0, every_s: float = 0.25) -> None:
        self._process = psutil.Process()
        self._samples: deque[tuple[float, float, float]] = deque(
            [self._sample()], maxlen=int(window_s / every_s) + 2)
        self._lock = threading.Lock()
        self._others = 0.0
        self._every = every_s
        self._stop = threading.Event()
        threading.Thread(target=self._run, name="cpu-meter", daemon=True).start()

    def _sample(self) -> tuple[float, float, float]:
        system = psutil.cpu_times()
        busy = sum(getattr(system, name, 0.0) for name in
                   ("user", "nice", "system", "irq", "softirq", "steal"))
        own = self._process.cpu_times()
        return time.monotonic(), busy, own.user + own.system

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            sample = self._sample()
            with self._lock:
                self._samples.append(sample)

    def others_busy(self) -> float:
        """Cores used by other processes, averaged over about the last second."""
        now = self._sample()
        with self._lock:
            oldest = self._samples[0]
        elapsed = now[0] - oldest[0]
        if elapsed >= MIN_SAMPLE_S:
            others = (now[1] - oldest[1]) - (now[2] - oldest[2])
            self._others = max(0.0, others / elapsed)
        return self._others

    def span_s(self) -> float:
        """Seconds of history the next figure will average over."""
        with self._lock:
            return time.monotonic() - self._samples[0][0]

    def close(self) -> None:
        """Stop sampling."""
        self._stop.set()


@dataclass
class _Rates:
    recent: dict[int, float] = field(default_factory=dict)  # count -> tokens/s, smoothed
    best: dict[int, float] = field(default_factory=dict)    # count -> best recent window

    def add(self, count: int, rate: float) -> None:
        old = self.recent.get(count)
        self.recent[count] = rate if old is None else 0.5 * old + 0.5 * rate
        self.best[count] = max(rate, 0.9 * self.best.get(count, rate))


class ThreadTuner:
    """Chooses llama.cpp's generation thread count; ``fixed`` (a user's count) always wins."""

    def __init__(self, cores: int, fixed: int = 0, batch_cores: int = 0, fixed_batch: int = 0,
                 meter: LoadMeter | None = None) -> None:
        self.cores = max(1, cores)
        self.fixed = fixed
        self.current = fixed or self.cores
        self.batch_cores = max(1, batch_cores or self.cores)
        self.fixed_batch = fixed_batch
        self.batch = fixed_batch or self.batch_cores   # threads for reading prompts
        automatic = not (fixed and fixed_batch)
        self._sampler = CpuMeter() if meter is None and automatic else None  # ours to close
        self._meter: LoadMeter | None = meter if meter is not None else self._sampler
        self._rates = _Rates()
        self._home = self.current        # the count the tuner believes best
        self._estimate = 0               # the free cores seen at the last reply's start
        self._probing = False
        self._gap = FIRST_PROBE_AFTER
        self._since_probe = 0
        self._direction = -1
        self._window_start = 0.0
        self._window_tokens = 0
        self.used: dict[int, int] = {}   # count -> tokens made with it in this reply

    @property
    def automatic(self) -> bool:
        """True unless the user fixed the count."""
        return not self.fixed

    def begin(self) -> int:
        """The count to start a reply with (``batch`` is set for its prompt too)."""
        self.used = {}
        self._window_tokens = 0
        others = self._meter.others_busy() if self._meter is not None else 0.0
        if not self.fixed_batch:
            self.batch = _free(self.batch_cores, others)
        if self.fixed:
            return self.current
        free = _free(self.cores, others)
        if free != self._estimate:   # the load changed since the last reply: start afresh
            self._estimate = self._home = free
            self._gap = FIRST_PROBE_AFTER
            self._since_probe = 0
        self._probing = False
        self.current = self._home
        return self.current

    def token(self, now: float) -> int | None:
        """Called after every token; returns a new count to switch to, or None."""
        self.used[self.current] = self.used.get(self.current, 0) + 1
        if self.fixed or self.cores == 1:
            return None
        if self._window_tokens == 0:
            self._window_start = now
        self._window_tokens += 1
        if self._probing and self._window_tokens >= 3:
            so_far = (self._window_tokens - 1) / max(now - self._window_start, 1e-9)
            if so_far < GIVE_UP_BELOW * self._rates.recent.get(self._home, 0.0):
                self._rates.add(self.current, so_far)
                return self._failed_probe()
        if self._window_tokens <= WINDOW_TOKENS:
            return None
        rate = WINDOW_TOKENS / max(now - self._window_start, 1e-9)
        self._window_start = now
        self._window_tokens = 1
        return self._decide(rate)

    def _failed_probe(self) -> int | None:
        self._probing = False
        self._gap = min(self._gap * 2, LONGEST_PROBE_GAP)
        return self._switch(self._home)

    def _decide(self, rate: float) -> int | None:
        count = self.current
        if self._probing:
            self._rates.add(count, rate)
            if rate > self._rates.recent.get(self._home, 0.0) * BETTER_BY:
                self._probing = False
                self._home, self._gap = count, FIRST_PROBE_AFTER
                return None
            return self._failed_probe()
        collapsed = rate < COLLAPSE_BELOW * self._rates.best.get(count, 0.0)
        self._rates.add(count, rate)
        self._since_probe += 1
        untried = any(1 <= count + step <= self.cores and count + step not in self._rates.recent
                      for step in (-1, 1))
        if collapsed:
            self._gap = FIRST_PROBE_AFTER
        elif self._since_probe < self._gap and not untried:
            return None
        return self._probe()

    def _probe(self) -> int | None:
        self._since_probe = 0
        for step in (self._direction, -self._direction):
            candidate = self._home + step
            if 1 <= candidate <= self.cores:
                self._direction = -step   # the other side next time
                self._probing = True
                return self._switch(candidate)
        return None

    def _switch(self, count: int) -> int | None:
        if count == self.current:
            return None
        self.current = count
        self._window_tokens = 0
        return count

    def close(self) -> None:
        """Stop measuring the machine."""
        if self._sampler is not None:
            self._sampler.close()

    def most_used(self) -> int:
        """The count that made most of this reply's tokens (0: it made none)."""
        return max(self.used, key=lambda count: self.used[count]) if self.used else 0


def _free(cores: int, others_busy: float) -> int:
    """Of ``cores``, how many other processes leave free (at least one).

    ``others_busy`` is in logical CPUs, also when ``cores`` counts physical ones: a busy
    program on one hyperthread slows the llama.cpp thread that shares its core, so each
    busy CPU takes a whole core away.
    """
    return max(1, min(cores, math.floor(cores - others_busy + 0.5)))
