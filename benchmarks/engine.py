"""Engine benchmarks, all in one run on the same model and thread count.

- throughput: tokens/s of 1,500-token replies through the app's engine client vs a raw
  in-process ``Llama.generate`` loop (end-of-generation ignored so both make every token);
- turn TTFT: time to first token at turn 20 of a conversation vs turn 1;
- resume: time to first token continuing a ~3,000-token conversation after an engine
  restart, with its saved KV state vs cold;
- stop latency: p95 over 20 stops during generation and during a ~2,000-token prompt;
- switch: time to first token of the other of two loaded models;
- contention: generation tokens/s with 0 and with 1 busy competing process, for the
  automatic thread count and for each fixed count, in the same run.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from app.core import protocol as p
from app.core.hardware import physical_cores
from benchmarks.driver import (
    Driver,
    format_table,
    median,
    percentile,
    scratch_dir,
    starter_model,
)

TOKENS = 1500
ROUNDS = 7
STOPS = 20
PROMPT = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
SAMPLING = p.Sampling(temperature=0.7, top_p=0.95, top_k=40, min_p=0.05, repeat_penalty=1.1,
                      max_tokens=TOKENS, seed=42, ignore_eos=True)
SENTENCE = "The quick brown fox jumps over the lazy dog near the old stone bridge. "


def long_chat(tokens: int, tag: str = "") -> list[dict[str, str]]:
    """A synthetic conversation of about ``tokens`` tokens ending with a question."""
    messages = [{"role": "system", "content": f"You are a helpful assistant. {tag}"}]
    for i in range(max(1, tokens // 150)):
        messages += [{"role": "user", "content": f"Note {i}: " + SENTENCE * 8},
                     {"role": "assistant", "content": f"Noted {i}."}]
    return messages + [{"role": "user", "content": "What animal jumps?"}]


def _rate(count: int, first: float, last: float) -> float:
    return (count - 1) / (last - first)


def _raw_rate(raw_model: Any, prompt: list[int]) -> float:
    llama = raw_model.llama
    llama.set_seed(SAMPLING.seed)
    first = last = 0.0
    count = 0
    for _token in llama.generate(prompt, temp=SAMPLING.temperature, top_p=SAMPLING.top_p,
                                 top_k=SAMPLING.top_k, min_p=SAMPLING.min_p,
                                 repeat_penalty=SAMPLING.repeat_penalty):
        last = time.perf_counter()
        first = first or last
        count += 1
        if count >= TOKENS:
            break
    llama.reset()
    return _rate(count, first, last)


def throughput(model: str, say: Callable[[str], None]) -> dict[str, Any]:
    from app.engine.loaded_model import (
        LoadedModel,  # llama_cpp only for the raw baseline
    )

    spec = p.ModelSpec(path=model, n_ctx=2048, n_threads=physical_cores())
    driver = Driver()
    raw_model = LoadedModel(spec)
    prompt = raw_model.render(PROMPT)[0]
    raw, engine = [], []

    def engine_rate() -> float:
        reply = driver.ask(spec, PROMPT, SAMPLING)
        return _rate(reply.stats.completion_tokens, reply.first_at, reply.ended_at)

    try:
        driver.ask(spec, PROMPT, p.Sampling(max_tokens=8))  # load it before timing
        for number in range(1, ROUNDS + 1):
            say(f"throughput round {number}/{ROUNDS}")
            # Alternate which goes first, so a slow drift of the machine favours neither.
            if number % 2:
                raw.append(_raw_rate(raw_model, prompt))
                engine.append(engine_rate())
            else:
                engine.append(engine_rate())
                raw.append(_raw_rate(raw_model, prompt))
    finally:
        driver.close()
        raw_model.close()
    ratios = [e / r for e, r in zip(engine, raw, strict=True)]
    return {"raw_tokens_per_second": median(raw), "engine_tokens_per_second": median(engine),
            "ratio": median(ratios), "round_ratios": ratios, "raw_rounds": raw,
            "engine_rounds": engine}


def turn_ttft(model: str, say: Callable[[str], None]) -> dict[str, Any]:
    say("time to first token over 20 turns")
    spec = p.ModelSpec(path=model, n_ctx=4096)
    driver = Driver()
    sampling = p.Sampling(max_tokens=48, seed=7)
    messages: list[dict[str, str]] = [{"role": "system", "content": "Answer briefly."}]
    ttfts = []
    try:
        driver.ask(spec, [{"role": "user", "content": "Hi"}], p.Sampling(max_tokens=4))
        for turn in range(1, 21):
            messages.append({"role": "user", "content": f"Tell me fact number {turn} about "
                             "the sea, in one sentence."})
            reply = driver.ask(spec, messages, sampling, cache_key="chat")
            ttfts.append(reply.ttft_s)
            messages.append({"role": "assistant", "content": reply.text})
        context = reply.stats.context_used
    finally:
        driver.close()
    return {"ttft_turn_1_s": ttfts[0], "ttft_turn_20_s": ttfts[-1],
            "ratio": ttfts[-1] / ttfts[0], "context_at_turn_20": context, "ttfts": ttfts}


def resume(model: str, say: Callable[[str], None]) -> dict[str, Any]:
    spec = p.ModelSpec(path=model, n_ctx=4096)
    options = {"state_dir": scratch_dir(), "state_budget_bytes": 4 << 30}
    chat = long_chat(3000)
    quick = p.Sampling(max_tokens=16, temperature=0.0)
    say("resume: reading a 3,000-token conversation once, then restarting")
    first = Driver(**options)
    try:
        reply = first.ask(spec, chat, quick, cache_key="long")
    finally:
        first.close()  # saves the conversation's state
    follow = chat + [{"role": "assistant", "content": reply.text},
                     {"role": "user", "content": "And which one is lazy?"}]
    timings = {}
    for name, opts in (("saved_state", options), ("cold", {})):
        say(f"resume: {name}")
        driver = Driver(**opts)
        try:
            driver.ask(spec, [{"role": "user", "content": "Hi"}], p.Sampling(max_tokens=2))
            timings[name] = driver.ask(spec, follow, quick, cache_key="long").ttft_s
        finally:
            driver.close()
    return {"prompt_tokens": reply.stats.prompt_tokens, "saved_ttft_s": timings["saved_state"],
            "cold_ttft_s": timings["cold"], "ratio": timings["saved_state"] / timings["cold"]}


def stop_latency(model: str, say: Callable[[str], None]) -> dict[str, Any]:
    spec = p.ModelSpec(path=model, n_ctx=4096)
    driver = Driver()
    rng = random.Random(3)
    during: dict[str, list[float]] = {"generation": [], "prefill": []}
    try:
        driver.ask(spec, [{"role": "user", "content": "Hi"}], p.Sampling(max_tokens=2))
        for number in range(STOPS):
            say(f"stop latency {number + 1}/{STOPS}")
            request, reply = driver.send(spec, PROMPT, p.Sampling(max_tokens=2000,
                                                                  ignore_eos=True))
            driver.wait(request, reply, until=p.Delta)
            time.sleep(rng.uniform(0.05, 0.3))
            during["generation"].append(_time_stop(driver, request, reply))
            # A fresh ~2,000-token prompt each time (its own first line): no cache reuse.
            request, reply = driver.send(spec, long_chat(2000, tag=f"Session {number}."),
                                         p.Sampling(max_tokens=8))
            driver.wait(request, reply, until=p.Started)
            time.sleep(rng.uniform(0.2, 1.5))
            during["prefill"].append(_time_stop(driver, request, reply))
    finally:
        driver.close()
    return {f"{phase}_p95_ms": percentile(values, 0.95) * 1000
            for phase, values in during.items()} | {
        f"{phase}_ms": [v * 1000 for v in values] for phase, values in during.items()}


def _time_stop(driver: Driver, request: str, reply: Any) -> float:
    asked = time.perf_counter()
    driver.client.cancel(request)
    driver.wait(request, reply)
    if reply.stats.stop_reason != p.StopReason.STOPPED:
        raise RuntimeError(f"the reply ended by itself ({reply.stats.stop_reason})")
    return reply.ended_at - asked


def switch(model: str, say: Callable[[str], None]) -> dict[str, Any]:
    say("switching between two loaded models")
    other = scratch_dir() / "second-model.gguf"
    shutil.copyfile(model, other)
    specs = [p.ModelSpec(path=model, n_ctx=2048), p.ModelSpec(path=str(other), n_ctx=2048)]
    question = [{"role": "user", "content": "Name a colour."}]
    sampling = p.Sampling(max_tokens=4, temperature=0.0)
    driver = Driver()
    try:
        cold = [driver.ask(spec, question, sampling).ttft_s for spec in specs]
        warm = [driver.ask(specs[i % 2], question, sampling).ttft_s for i in range(10)]
    finally:
        driver.close()
        other.unlink()
    return {"switch_ttft_ms": median(warm) * 1000, "first_load_ttft_ms": median(cold) * 1000}


CONTENTION_TOKENS = 150
CONTENTION_ROUNDS = 5
# Between replies: each engine's CPU meter looks at about the last second, which must show
# the machine and not the previous configuration's engine finishing its reply.
CONTENTION_PAUSE_S = 1.5


def contention(model: str, say: Callable[[str], None]) -> dict[str, Any]:
    """Tokens/s of automatic vs each fixed thread count, idle and with one core kept busy."""
    counts = {"auto": 0} | {str(n): n for n in range(1, physical_cores() + 1)}
    sampling = p.Sampling(max_tokens=CONTENTION_TOKENS, seed=5, ignore_eos=True)
    drivers = {name: Driver() for name in counts}
    specs = {name: p.ModelSpec(path=model, n_ctx=1024, n_threads=n) for name, n in counts.items()}
    pause = threading.Event()
    result: dict[str, Any] = {}
    try:
        for name, driver in drivers.items():   # load each, outside the timing
            driver.ask(specs[name], PROMPT, p.Sampling(max_tokens=4))
        for busy in (0, 1):
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range(busy)]
            rates: dict[str, list[float]] = {name: [] for name in counts}
            threads: dict[str, list[int]] = {name: [] for name in counts}
            try:
                for number in range(CONTENTION_ROUNDS):
                    say(f"contention: {busy} busy, round {number + 1}/{CONTENTION_ROUNDS}")
                    shift = number % len(counts)
                    order = list(counts)[shift:] + list(counts)[:shift]
                    for name in order:   # rotated, so a drift of the machine favours none
                        pause.wait(CONTENTION_PAUSE_S)
                        stats = drivers[name].ask(specs[name], PROMPT, sampling).stats
                        rates[name].append(stats.tokens_per_second or 0.0)
                        threads[name].append(stats.n_threads)
            finally:
                for hog in hogs:
                    hog.kill()
                    hog.wait()
            medians = {name: median(values) for name, values in rates.items()}
            best = max((name for name in counts if name != "auto"), key=medians.get)
            result[f"busy_{busy}"] = {"tokens_per_second": medians, "rounds": rates,
                                      "auto_threads": threads["auto"], "best_fixed": best,
                                      "ratio": medians["auto"] / medians[best]}
    finally:
        for driver in drivers.values():
            driver.close()
    return result


PARTS = {"throughput": throughput, "turns": turn_ttft, "resume": resume,
         "stop": stop_latency, "switch": switch, "contention": contention}


def run(model: str | None = None, progress: Callable[[str], None] = print,
        only: list[str] | None = None) -> dict[str, Any]:
    """Run the engine benchmarks (``only`` some of PARTS); return the figures."""
    model = model or starter_model(progress)
    result: dict[str, Any] = {"benchmark": "engine", "model": model,
                              "threads": physical_cores()}
    for name, part in PARTS.items():
        if not only or name in only:
            result[name] = part(model, progress)
    return result


def table(r: dict[str, Any]) -> str:
    """The results as a text table with the goals."""
    rows = []
    if "throughput" in r:
        t = r["throughput"]
        rows.append(
        ("tokens/s, 1,500-token reply: engine client vs raw Llama.generate",
         f"{t['engine_tokens_per_second']:.1f} vs {t['raw_tokens_per_second']:.1f}; "
         f"median ratio {t['ratio']:.3f}×", "≥ 0.97×"))
    if "turns" in r:
        turns = r["turns"]
        rows.append(("time to first token, turn 20 vs turn 1",
         f"{turns['ttft_turn_20_s'] * 1000:.0f} vs {turns['ttft_turn_1_s'] * 1000:.0f} ms = "
         f"{turns['ratio']:.2f}×", "≤ 1.3×"))
    if "resume" in r:
        res = r["resume"]
        rows.append((f"continue a {res['prompt_tokens']:,}-token chat after restart: "
                     "saved state vs cold",
         f"{res['saved_ttft_s'] * 1000:.0f} vs {res['cold_ttft_s'] * 1000:.0f} ms = "
         f"{res['ratio']:.3f}×", "≤ 0.3×"))
    if "stop" in r:
        stop = r["stop"]
        rows += [("stop latency p95 during generation (20 stops)",
                  f"{stop['generation_p95_ms']:.0f} ms", "≤ 100 ms"),
                 ("stop latency p95 during a ~2,000-token prompt (20 stops)",
                  f"{stop['prefill_p95_ms']:.0f} ms", "≤ 100 ms")]
    if "switch" in r:
        sw = r["switch"]
        rows.append(("time to first token of the other loaded model",
                     f"{sw['switch_ttft_ms']:.0f} ms (first load: "
                     f"{sw['first_load_ttft_ms']:.0f} ms)", ""))
    if "contention" in r:
        for busy in (0, 1):
            c = r["contention"][f"busy_{busy}"]
            rates = c["tokens_per_second"]
            fixed = ", ".join(f"{name} thr {rate:.1f}" for name, rate in rates.items()
                              if name != "auto")
            rows.append((f"tok/s with {busy} busy core{'s' if busy != 1 else ''}: auto "
                         f"(threads used {sorted(set(c['auto_threads']))}) vs fixed",
                         f"auto {rates['auto']:.1f} vs {fixed}; auto / best fixed "
                         f"({c['best_fixed']}) = {c['ratio']:.2f}×", "≥ 0.9×"))
    return format_table(f"engine benchmark · {r['threads']} threads · {r['model']}", rows)
