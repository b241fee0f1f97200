"""Fits your hardware: detecting RAM and VRAM, estimating a need, labelling it."""

from __future__ import annotations

import dataclasses
import logging
import stat
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from app.core import fit
from app.core.fit import (
    Hardware,
    assess,
    detect_hardware,
    estimate_need,
    estimate_need_from_size,
    hardware_text,
)
from app.core.gguf_info import read_gguf_info
from app.core.memory import MIB, model_memory_bytes
from tests.core.test_memory import SMALL

GIB = 1 << 30


@pytest.fixture
def fake_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Put a fake ``nvidia-smi`` (a shell script body) first and alone on PATH."""
    monkeypatch.setattr(fit, "_gpu", None)
    monkeypatch.setattr(fit.sys, "platform", "linux")
    calls = tmp_path / "calls"

    def install(body: str) -> Path:
        script = tmp_path / "bin" / "nvidia-smi"
        script.parent.mkdir(exist_ok=True)
        script.write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\n{body}\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        monkeypatch.setenv("PATH", str(script.parent))
        return calls

    return install


def test_ram_comes_from_psutil_and_no_gpu_means_no_vram(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fit, "_gpu", None)
    monkeypatch.setattr(fit.sys, "platform", "linux")
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi here
    hardware = detect_hardware()
    memory = psutil.virtual_memory()
    assert hardware.ram_total == memory.total
    assert 0 < hardware.ram_available <= memory.total
    assert (hardware.vram_total, hardware.vram_free, hardware.gpu_name) == (0, 0, "")


def test_nvidia_smi_is_asked_once_per_process(fake_smi: Callable[[str], Path]) -> None:
    calls = fake_smi('echo "NVIDIA GeForce RTX 3060, 12288, 11000"')
    first = detect_hardware()
    assert (first.vram_total, first.vram_free) == (12288 * MIB, 11000 * MIB)
    assert first.gpu_name == "NVIDIA GeForce RTX 3060" and not first.unified
    again = detect_hardware()
    assert (again.vram_total, again.vram_free, again.gpu_name) == \
        (first.vram_total, first.vram_free, first.gpu_name)
    assert calls.read_text().splitlines() == [
        "--query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits"]
    detect_hardware(refresh_gpu=True)
    assert len(calls.read_text().splitlines()) == 2


def test_several_gpus_add_up(fake_smi: Callable[[str], Path]) -> None:
    fake_smi('echo "Tesla T4, 15360, 15000"; echo "Tesla T4, 15360, 14000"')
    hardware = detect_hardware()
    assert (hardware.vram_total, hardware.vram_free) == (30720 * MIB, 29000 * MIB)
    assert hardware.gpu_name == "Tesla T4 ×2"


@pytest.mark.parametrize("body", [
    "exit 9",                                         # driver not loaded
    'echo "NVIDIA, [N/A], [N/A]"',                    # no memory figures
    "echo garbage",
    "exec sleep 30",                                  # hangs: the timeout ends it
])
def test_a_failing_nvidia_smi_means_no_vram(fake_smi: Callable[[str], Path],
                                            monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture, body: str) -> None:
    monkeypatch.setattr(fit, "NVIDIA_SMI_TIMEOUT", 0.3)
    fake_smi(body)
    hardware = detect_hardware()
    assert (hardware.vram_total, hardware.vram_free, hardware.gpu_name) == (0, 0, "")
    assert any(r.levelno == logging.INFO and "nvidia-smi" in r.getMessage()
               for r in caplog.records)


def test_apple_silicon_shares_the_ram(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fit.sys, "platform", "darwin")
    monkeypatch.setattr(fit.platform, "machine", lambda: "arm64")
    hardware = detect_hardware()
    assert hardware.unified and hardware.vram_total == hardware.ram_total
    assert assess(GIB, dataclasses.replace(hardware, ram_available=4 * GIB), -1).where == "RAM"


def test_estimate_need_is_the_memory_estimate() -> None:
    assert estimate_need(SMALL, 2048) == model_memory_bytes(SMALL, 2048)
    assert estimate_need(SMALL, 2048, "q8_0", "q8_0") == \
        model_memory_bytes(SMALL, 2048, "q8_0", "q8_0")
    with pytest.raises(ValueError, match="automatic context"):  # decided before, not here
        estimate_need(SMALL, 0)


def test_the_size_only_estimate_is_close_for_the_starter_model(starter_gguf: Path) -> None:
    info = read_gguf_info(starter_gguf)
    for n_ctx in (2048, 4096, 8192):
        exact = estimate_need(info, n_ctx)
        rough = estimate_need_from_size(info.file_size, n_ctx)
        assert 0.7 < rough / exact < 1.3, (n_ctx, rough, exact)
    assert estimate_need_from_size(10**9, 8192) > estimate_need_from_size(10**9, 2048) > 10**9


RAM_ONLY = Hardware(ram_total=16 * GIB, ram_available=8 * GIB, vram_total=0, vram_free=0,
                    gpu_name="")
GPU = Hardware(ram_total=16 * GIB, ram_available=8 * GIB, vram_total=12 * GIB,
               vram_free=4 * GIB, gpu_name="RTX")


@pytest.mark.parametrize("need, label", [(6 * GIB, "fits"), (7 * GIB, "tight"),
                                         (9 * GIB, "too big")])
def test_ram_labels(need: int, label: str) -> None:
    result = assess(need, RAM_ONLY)
    assert (result.label, result.where, result.available) == (label, "RAM", 8 * GIB)
    assert result.text.startswith(f"{label}: needs ") and result.text.endswith(
        " of 8.59 GB free RAM")


def test_gpu_layers_without_known_vram_use_the_ram() -> None:
    assert assess(7 * GIB, RAM_ONLY, gpu_layers=-1).where == "RAM"


def test_all_layers_on_the_gpu_use_the_vram() -> None:
    result = assess(3 * GIB, GPU, gpu_layers=-1, block_count=30)
    assert (result.label, result.where) == ("fits", "VRAM")
    assert result.text == "fits: needs 3.22 GB of 4.29 GB free VRAM"
    assert assess(5 * GIB, GPU, gpu_layers=99, block_count=30).label == "too big"
    assert assess(3 * GIB, GPU).where == "RAM"  # no layers offloaded


def test_a_partial_offload_needs_both_to_fit() -> None:
    result = assess(8 * GIB, GPU, gpu_layers=13, block_count=32)  # 3.25 GiB on the GPU
    assert (result.label, result.where) == ("tight", "VRAM + RAM")
    assert result.text == ("tight: needs 3.49 GB of 4.29 GB free VRAM and "
                           "5.10 GB of 8.59 GB free RAM")
    assert assess(8 * GIB, GPU, gpu_layers=12, block_count=32).label == "fits"  # 3 GiB
    assert assess(12 * GIB, GPU, gpu_layers=16, block_count=32).label == "too big"  # 6 on GPU
    assert assess(4 * GIB, GPU, gpu_layers=16, block_count=32).label == "fits"


def test_the_real_machine_can_be_asked() -> None:
    hardware = detect_hardware()
    assert hardware.ram_total > 0
    assert assess(1, hardware).label == "fits"


def test_hardware_text() -> None:
    assert hardware_text(RAM_ONLY) == ("RAM: 8.59 GB free of 17.18 GB · no GPU memory detected "
                                       "(only NVIDIA GPUs are measured)")
    assert hardware_text(GPU) == ("RAM: 8.59 GB free of 17.18 GB · RTX: 4.29 GB free of "
                                  "12.88 GB VRAM")
    apple = dataclasses.replace(RAM_ONLY, unified=True, gpu_name="Apple silicon")
    assert hardware_text(apple) == ("RAM: 8.59 GB free of 17.18 GB (shared with the GPU: "
                                    "Apple silicon)")
