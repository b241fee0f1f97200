"""An automatic context is decided once, by one rule: the fit label, the pool's memory
estimate and the engine's real load agree, also when memory limits the context."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from app.core import memory
from app.core import protocol as p
from app.core.fit import Hardware
from app.core.gguf_info import read_gguf_info
from app.core.library import ModelLibrary
from app.core.memory import automatic_context, model_memory_bytes
from app.core.model_fit import fit_of_model
from app.core.paths import Paths
from app.core.settings import Settings
from app.engine.client import EngineClient
from app.engine.load_plan import LoadPlan, plan_load, replan
from tests.engine.conftest import EventLog

GIB = 1 << 30


@dataclass(frozen=True)
class _Memory:
    """What psutil.virtual_memory() answers, with a chosen available figure."""

    available: int
    total: int = 64 * GIB


def _free_ram(monkeypatch: pytest.MonkeyPatch, available: int) -> Hardware:
    """Make this process read ``available`` bytes of free RAM (labels, pool and all)."""
    monkeypatch.setattr(memory.psutil, "virtual_memory", lambda: _Memory(available))
    return Hardware(ram_total=64 * GIB, ram_available=available, vram_total=0, vram_free=0,
                    gpu_name="")


def _short_of_memory(model_path: str) -> int:
    """Free RAM that allows the starter model (trained on 8192) a 1024-token context."""
    return model_memory_bytes(read_gguf_info(model_path), 1024) * 10 // 7 + 10


def test_an_automatic_load_gets_the_context_its_fit_label_assumed(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_paths: Paths,
        model_path: str) -> None:
    [model] = ModelLibrary(model_paths.models_dir).scan()
    settings = Settings(tmp_path / "settings.json")          # context 0: automatic
    events = EventLog()
    client = EngineClient(events, memory_budget_bytes=1 << 40)
    try:
        for available in (64 * GIB, _short_of_memory(model_path)):
            fit = fit_of_model(model, settings, _free_ram(monkeypatch, available))
            assert fit is not None
            loaded = events.until_loaded(client.load(p.ModelSpec(path=model_path)))
            (engine_process,) = client._pool.values()
            assert loaded.n_ctx == fit.n_ctx                  # the engine's real context
            assert engine_process.memory_bytes == fit.need    # the pool's estimate
            client.unload()
    finally:
        client.shutdown()
    assert loaded.n_ctx == 1024 < loaded.n_ctx_train == 8192  # memory limited it
    assert fit is not None and fit.label == "fits"


def test_the_engine_decides_an_automatic_context_itself_by_the_same_rule(
        monkeypatch: pytest.MonkeyPatch, model_path: str) -> None:
    from app.engine.loaded_model import LoadedModel  # llama_cpp in the test process only

    info = read_gguf_info(model_path)
    available = _short_of_memory(model_path)
    _free_ram(monkeypatch, available)
    for kv in ("f16", "q8_0"):
        spec = p.ModelSpec(path=model_path, type_k=kv, type_v=kv, flash_attn=True)
        model = LoadedModel(spec)                         # as the CLI or a test sends it: 0
        try:
            assert model.n_ctx == automatic_context(info, available, kv, kv)
        finally:
            model.close()
    assert automatic_context(info, available, "q8_0", "q8_0") > 1024


def test_the_plan_sends_a_concrete_context_and_keeps_it_across_other_changes(
        monkeypatch: pytest.MonkeyPatch, model_path: str) -> None:
    info = read_gguf_info(model_path)
    short = _short_of_memory(model_path)
    model = p.ModelSpec(path=model_path)
    plan = plan_load(model, short)
    assert plan == LoadPlan(replace(model, n_ctx=1024), model_memory_bytes(info, 1024))
    assert plan_load(replace(model, n_ctx=3000), short).spec.n_ctx == 3000   # chosen
    _free_ram(monkeypatch, 64 * GIB)
    threads = replace(model, n_threads=2)     # a reload, but the memory is the same
    assert replan(plan, model, threads, plan.memory_bytes) == \
        LoadPlan(replace(threads, n_ctx=1024), plan.memory_bytes)
    q8 = replace(model, type_k="q8_0", type_v="q8_0", flash_attn=True)   # planned again
    assert replan(plan, model, q8, plan.memory_bytes).spec.n_ctx == 8192


def test_a_file_that_cannot_be_read_here_is_left_to_the_engine(tmp_path: Path,
                                                               model_path: str) -> None:
    missing = p.ModelSpec(path=str(tmp_path / "gone.gguf"))
    assert plan_load(missing) == LoadPlan(missing, 0)
    unknown_type = p.ModelSpec(path=model_path, type_k="q3_k")
    assert plan_load(unknown_type) == LoadPlan(unknown_type, 0)
