"""The automatic thread count: picked from the free cores, corrected by measured speed.

The decisions are tested against a simulated machine whose speed per thread count is the one
measured on this project's 2-core machine (SmolLM2-135M): idle 2 threads 64.9 tok/s,
1 thread 43.4; one core busy: 2 threads 24.8, 1 thread 51.0. The real effect on llama.cpp is
measured by ``python -m benchmarks engine --only contention``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from app.engine.thread_tuner import ThreadTuner

IDLE = {1: 43.4, 2: 64.9}
BUSY = {1: 51.0, 2: 24.8}


class FixedLoad:
    """A CPU meter that reports what the test says other programs use."""

    def __init__(self, busy_cores: float) -> None:
        self.busy_cores = busy_cores

    def others_busy(self) -> float:
        return self.busy_cores


def simulate(tuner: ThreadTuner, speeds: list[dict[int, float]], tokens: int
             ) -> tuple[float, list[int]]:
    """Run one reply of ``tokens`` tokens; ``speeds`` changes at equal parts of the reply.

    Returns the reply's average tokens/s and the count used for each token.
    """
    now, used = 0.0, []
    count = tuner.begin()
    for number in range(tokens):
        speed = speeds[min(len(speeds) - 1, number * len(speeds) // tokens)]
        now += 1.0 / speed[count]
        used.append(count)
        count = tuner.token(now) or count
    return tokens / now, used


@pytest.mark.parametrize(("busy", "speed", "start"), [(0.1, IDLE, 2), (1.0, BUSY, 1)])
def test_the_free_cores_choose_the_first_count(busy: float, speed: dict[int, float],
                                               start: int) -> None:
    tuner = ThreadTuner(2, meter=FixedLoad(busy))
    assert tuner.begin() == start
    rate, used = simulate(tuner, [speed], 300)
    assert used.count(start) > 0.9 * len(used)
    assert rate >= 0.95 * max(speed.values())
    assert tuner.most_used() == start


def test_a_wrong_guess_is_corrected_within_the_reply() -> None:
    # The meter saw an idle machine, but the program that makes it slow has just started.
    tuner = ThreadTuner(2, meter=FixedLoad(0.0))
    rate, used = simulate(tuner, [BUSY], 400)
    assert used[-1] == 1 and used[-100:].count(1) >= 95
    assert rate >= 0.9 * BUSY[1]


def test_load_that_starts_mid_reply_is_followed() -> None:
    tuner = ThreadTuner(2, meter=FixedLoad(0.0))
    rate, used = simulate(tuner, [IDLE, BUSY], 800)
    assert used[350] == 2 and used[-1] == 1
    best_fixed = 800 / (400 / IDLE[2] + 400 / BUSY[2]), 800 / (400 / IDLE[1] + 400 / BUSY[1])
    assert rate >= 0.9 * max(best_fixed) * 1.2   # far better than either fixed count


def test_the_tuner_remembers_across_replies_and_tries_less_often() -> None:
    tuner = ThreadTuner(2, meter=FixedLoad(0.0))
    _, first = simulate(tuner, [IDLE], 400)
    _, second = simulate(tuner, [IDLE], 400)
    # Tries of 1 thread thin out while they keep losing, also across replies, and a losing
    # try ends after 3 tokens.
    assert 0 < second.count(1) < first.count(1)
    assert second.count(1) <= 3


def test_a_users_count_always_wins() -> None:
    tuner = ThreadTuner(2, fixed=2, batch_cores=2, fixed_batch=2, meter=FixedLoad(1.0))
    assert tuner.begin() == 2 and tuner.batch == 2
    _, used = simulate(tuner, [BUSY], 300)
    assert set(used) == {2}
    assert not tuner.automatic


def test_prompt_threads_follow_the_free_logical_cores() -> None:
    tuner = ThreadTuner(4, batch_cores=8, meter=FixedLoad(3.0))
    assert tuner.begin() == 1 and tuner.batch == 5
    tuner = ThreadTuner(4, batch_cores=8, meter=FixedLoad(20.0))   # overloaded: never 0
    assert tuner.begin() == 1 and tuner.batch == 1


def test_one_core_never_changes() -> None:
    tuner = ThreadTuner(1, meter=FixedLoad(0.5))
    _, used = simulate(tuner, [BUSY], 100)
    assert set(used) == {1}


def _poll(condition: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    """Wait until ``condition()`` holds (a bounded poll on a measurement, not a fixed sleep)."""
    import threading
    import time

    deadline, pause = time.monotonic() + timeout_s, threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.05)
    return True


def test_the_meter_sees_a_busy_program_and_not_itself() -> None:
    import subprocess
    import sys
    import threading
    import time

    from app.engine.thread_tuner import CpuMeter

    meter = CpuMeter()
    try:
        assert _poll(lambda: meter.span_s() >= 1.0)
        baseline = meter.others_busy()   # whatever else this machine is doing
        free = psutil.cpu_count() - baseline
        if free < 0.5:   # a third busy program would only take time from the others
            pytest.skip(f"every core is already busy ({baseline:.1f} of {psutil.cpu_count()})")
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            assert _poll(lambda: meter.others_busy() >= baseline + 0.7 * min(1.0, free))
        finally:
            busy.kill()
            busy.wait()

        killed = time.monotonic()
        working = threading.Event()

        def work() -> None:   # keeps a core busy in this process
            while not working.is_set():
                sum(range(10_000))

        worker = threading.Thread(target=work)
        worker.start()
        try:   # once the meter's window no longer holds the killed program's time:
            assert _poll(lambda: time.monotonic() - killed > 1.5)
            assert meter.others_busy() <= baseline + 0.3   # our own work is not "others"
        finally:
            working.set()
            worker.join()
    finally:
        meter.close()


def test_a_failed_load_leaves_no_cpu_sampler_running(tmp_path: Path) -> None:
    import threading

    from app.core.errors import ModelFileError
    from app.core.protocol import ModelSpec
    from app.engine.loaded_model import LoadedModel
    from tests.engine.conftest import write_unknown_architecture

    bad = write_unknown_architecture(tmp_path / "unknown.gguf")
    before = set(threading.enumerate())
    with pytest.raises(ModelFileError):
        LoadedModel(ModelSpec(path=str(bad)))
    started = [t for t in threading.enumerate() if t not in before and t.name == "cpu-meter"]
    for thread in started:
        thread.join(timeout=10)
    assert not [t for t in started if t.is_alive()]
