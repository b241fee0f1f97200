"""Tokens/s through the app's engine client vs a raw in-process ``Llama.generate`` loop.

Same model, same thread count, same sampling, same prompt, same number of tokens
(end-of-generation is ignored so both produce exactly ``TOKENS``), in one run,
alternating the two so that neither gets a warmer machine.
"""

from __future__ import annotations

import queue
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from app.core import protocol as p
from app.core.hardware import physical_cores
from app.core.paths import resolve_paths
from app.core.starter_model import ensure_starter_model
from app.engine.client import EngineClient

TOKENS = 1000
ROUNDS = 3
N_CTX = 2048
PROMPT = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
SAMPLING = p.Sampling(temperature=0.7, top_p=0.95, top_k=40, min_p=0.05, repeat_penalty=1.1,
                      max_tokens=TOKENS, seed=42, ignore_eos=True)


def _rate(count: int, first: float, last: float) -> float:
    return (count - 1) / (last - first)


def _raw_round(model: Any, prompt: list[int]) -> dict[str, float]:
    llama = model.llama
    started = time.perf_counter()
    first = last = 0.0
    count = 0
    llama.set_seed(SAMPLING.seed)
    for _token in llama.generate(prompt, temp=SAMPLING.temperature, top_p=SAMPLING.top_p,
                                 top_k=SAMPLING.top_k, min_p=SAMPLING.min_p,
                                 repeat_penalty=SAMPLING.repeat_penalty, reset=True):
        last = time.perf_counter()
        if count == 0:
            first = last
        count += 1
        if count >= TOKENS:
            break
    llama.reset()  # the next round evaluates the prompt again, like the engine's
    return {"tokens": count, "tokens_per_second": _rate(count, first, last),
            "ttft_s": first - started}


def _engine_round(client: EngineClient, events: queue.SimpleQueue, spec: p.ModelSpec
                  ) -> dict[str, float]:
    started = time.perf_counter()
    request = client.chat(spec, PROMPT, SAMPLING)
    first = 0.0
    deltas = 0
    while True:
        event = events.get(timeout=600)
        if getattr(event, "request_id", None) != request:
            continue
        if isinstance(event, p.Delta):
            deltas += 1
            if deltas == 1:
                first = time.perf_counter()
        elif isinstance(event, p.Done):
            last = time.perf_counter()
            count = event.stats.completion_tokens
            return {"tokens": count, "tokens_per_second": _rate(count, first, last),
                    "ttft_s": first - started}
        elif isinstance(event, p.Error):
            raise RuntimeError(event.message)


def run(model: str | None = None, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure both paths; return the figures."""
    from app.engine.generation import LoadedModel  # llama_cpp only for the raw baseline

    if model is None:
        profile = resolve_paths(tempfile.mkdtemp(prefix="hearth-bench-")).ensure()
        model = str(ensure_starter_model(profile, progress=progress))
    threads = physical_cores()
    spec = p.ModelSpec(path=model, n_ctx=N_CTX, n_threads=threads)
    events: queue.SimpleQueue = queue.SimpleQueue()
    client = EngineClient(events.put)
    raw_model = LoadedModel(spec)
    prompt, _stops = raw_model.render(PROMPT)
    raw, engine = [], []
    try:
        _engine_round(client, events, p.ModelSpec(path=model, n_ctx=N_CTX, n_threads=threads))
        for round_number in range(1, ROUNDS + 1):
            progress(f"round {round_number}/{ROUNDS}: raw Llama.generate")
            raw.append(_raw_round(raw_model, prompt))
            progress(f"round {round_number}/{ROUNDS}: engine client")
            engine.append(_engine_round(client, events, spec))
    finally:
        client.shutdown()
        raw_model.close()
    raw_tps = statistics.median(r["tokens_per_second"] for r in raw)
    engine_tps = statistics.median(r["tokens_per_second"] for r in engine)
    return {
        "benchmark": "engine",
        "model": model,
        "threads": threads,
        "tokens": TOKENS,
        "rounds": ROUNDS,
        "prompt_tokens": len(prompt),
        "raw_tokens_per_second": raw_tps,
        "engine_tokens_per_second": engine_tps,
        "ratio": engine_tps / raw_tps,
        "raw_ttft_s": statistics.median(r["ttft_s"] for r in raw),
        "engine_ttft_s": statistics.median(r["ttft_s"] for r in engine),
        "raw_rounds": raw,
        "engine_rounds": engine,
    }


def table(result: dict[str, Any]) -> str:
    """The result as a text table."""
    rows = [
        ("tokens/s (median)", f"{result['engine_tokens_per_second']:.1f}",
         f"{result['raw_tokens_per_second']:.1f}", f"{result['ratio']:.3f}×"),
        ("time to first token", f"{result['engine_ttft_s'] * 1000:.0f} ms",
         f"{result['raw_ttft_s'] * 1000:.0f} ms",
         f"{result['engine_ttft_s'] / result['raw_ttft_s']:.2f}×"),
    ]
    head = (f"engine benchmark: {result['tokens']}-token replies, {result['rounds']} rounds, "
            f"{result['threads']} threads, prompt {result['prompt_tokens']} tokens\n"
            f"model: {result['model']}\n")
    widths = [22, 16, 20, 8]
    lines = [" | ".join(h.ljust(w) for h, w in zip(
        ("metric", "engine client", "raw Llama.generate", "ratio"), widths))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    return head + "\n".join(lines)
