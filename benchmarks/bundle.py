"""Bundle benchmark: the installed bundle against the source checkout, in one run.

- start to window: a new process on a fresh profile (offscreen) until the window is shown
  (the log's "Main window shown"), bundle (``dist/hearth/hearth``) vs ``python main.py``;
- start to first token: ``--self-test`` on a fresh profile, its wall time less the time its
  tokens took after the first (``tokens / tokens_per_second``);
- generation: tok/s of the bundle's portable llama.cpp (``build/package-venv``) vs the source
  venv's native build, the same greedy 128 tokens, 2 threads, alternating rounds.
Medians of RUNS rounds. Needs ``scripts/package`` to have run.

Run: ``python -m benchmarks bundle [--json]``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.driver import format_table, median, starter_model

RUNS = 3
ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "dist" / "hearth" / "hearth"
PORTABLE_PYTHON = ROOT / "build" / "package-venv" / "bin" / "python"
_GENERATE = """
import sys, time, llama_cpp
llm = llama_cpp.Llama(sys.argv[1], n_ctx=512, n_threads=2, verbose=False)
prompt = llm.tokenize(b"Write a long story about a lighthouse keeper.")
list(zip(range(8), llm.generate(prompt, temp=0.0)))  # warm up
llm.reset()
start, count = time.perf_counter(), 0
for count, _token in enumerate(llm.generate(prompt, temp=0.0), 1):
    if count == 128:
        break
print(count / (time.perf_counter() - start))
"""


def _commands() -> dict[str, list[str]]:
    return {"bundle": [str(BUNDLE)], "source": [sys.executable, str(ROOT / "main.py")]}


def _profile(kind: str, model: Path) -> Path:
    data = Path(tempfile.mkdtemp(prefix=f"hearth-bench-{kind}-"))
    if kind == "source":  # the bundle has its built-in model; the source profile gets a link
        (data / "models").mkdir()
        os.link(model, data / "models" / model.name)
    return data


def _to_window(command: list[str], data: Path) -> float:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    log = data / "logs" / "hearth.log"
    start = time.perf_counter()
    process = subprocess.Popen([*command, "--data-dir", str(data)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = start + 120
        while time.perf_counter() < deadline:
            if log.is_file() and "Main window shown" in log.read_text(errors="replace"):
                return time.perf_counter() - start
            time.sleep(0.01)
        raise RuntimeError(f"{command[0]} showed no window within 120 s")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def _to_first_token(command: list[str], data: Path) -> float:
    start = time.perf_counter()
    out = subprocess.run([*command, "--data-dir", str(data), "--self-test", "--prompt", "Hi"],
                         capture_output=True, text=True, check=True, timeout=600).stdout
    wall = time.perf_counter() - start
    result = json.loads(out.strip().splitlines()[-1])
    return wall - max(result["tokens"] - 1, 0) / max(result["tokens_per_second"], 1e-9)


def _tokens_per_second(python: str, model: Path) -> float:
    out = subprocess.run([python, "-c", _GENERATE, str(model)], capture_output=True,
                         text=True, check=True, timeout=600).stdout
    return float(out.strip().splitlines()[-1])


def run(model: str | None = None, progress: Callable[[str], None] = print,
        only: list[str] | None = None) -> dict[str, Any]:
    """Measure both ways of running Hearth, alternating within each round."""
    if not BUNDLE.is_file() or not PORTABLE_PYTHON.is_file():
        raise SystemExit("No bundle: run scripts/package first.")
    gguf = Path(model) if model else Path(starter_model(progress))
    parts = only or ["window", "first_token", "generation"]
    samples: dict[str, list[float]] = {}
    for round_ in range(RUNS):
        progress(f"round {round_ + 1} of {RUNS}")
        for kind, command in _commands().items():
            if "window" in parts:
                samples.setdefault(f"window_{kind}", []).append(
                    _to_window(command, _profile(kind, gguf)))
            if "first_token" in parts:
                samples.setdefault(f"first_token_{kind}", []).append(
                    _to_first_token(command, _profile(kind, gguf)))
        if "generation" in parts:
            samples.setdefault("tps_portable", []).append(
                _tokens_per_second(str(PORTABLE_PYTHON), gguf))
            samples.setdefault("tps_native", []).append(_tokens_per_second(sys.executable, gguf))
    return {name: median(values) for name, values in samples.items()} | {"runs": RUNS}


def table(r: dict[str, Any]) -> str:
    """The results as a text table."""
    rows = []
    for key, label in (("window", "start to window shown"),
                       ("first_token", "start to first token (--self-test)")):
        if f"{key}_bundle" in r:
            rows.append((label, f"bundle {r[f'{key}_bundle']:.2f} s vs source "
                         f"{r[f'{key}_source']:.2f} s",
                         f"{r[f'{key}_bundle'] / r[f'{key}_source']:.2f}×"))
    if "tps_portable" in r:
        rows.append(("generation, 128 tokens, 2 threads",
                     f"portable {r['tps_portable']:.1f} vs native {r['tps_native']:.1f} tok/s",
                     f"{r['tps_portable'] / r['tps_native']:.3f}×"))
    return format_table(f"Bundle vs source checkout (medians of {r['runs']} rounds; "
                        "last column: ratio)", rows)
