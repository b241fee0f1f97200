"""Will a model fit this computer? Its memory need against free RAM and, when known, VRAM.

VRAM is read from ``nvidia-smi`` (NVIDIA only; other GPUs report none, and the estimate
falls back to RAM). On Apple silicon the GPU shares the RAM ("unified memory"), so the RAM
rules apply whatever the GPU layers. The GPU figures are read once per process (the
command takes a noticeable fraction of a second); RAM is read at every call.
"""

from __future__ import annotations

import logging
import platform
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass

import psutil

from app.core.gguf_info import GGUFInfo
from app.core.memory import (
    MIB,
    RUNTIME_OVERHEAD,
    FitLabel,
    fit_label,
    model_memory_bytes,
)
from app.core.units import human_size

log = logging.getLogger(__name__)

NVIDIA_SMI_TIMEOUT = 2.0  # seconds
# estimate_need_from_size, for an automatic context: without the header neither the trained
# length nor the KV cache per token is known, so memory.automatic_context cannot decide it.
TYPICAL_CONTEXT = 4096
# estimate_need_from_size, for a file whose header is unknown: the KV cache per token is
# taken as 1/8192 of the file (a Q4 Llama-2-7B without grouped-query attention needs about
# 1/7000, current models with grouped-query attention 1/30000 or less), and the compute
# buffers as those of a 64k-token vocabulary (see memory.compute_bytes).
_KV_SHARE_PER_TOKEN = 8192
_ROUGH_COMPUTE = 4 * 512 * 65_536 + RUNTIME_OVERHEAD


@dataclass(frozen=True)
class Hardware:
    """Memory of this computer, in bytes (VRAM 0 when no NVIDIA GPU was found)."""

    ram_total: int
    ram_available: int
    vram_total: int
    vram_free: int
    gpu_name: str
    unified: bool = False  # the GPU uses the RAM (Apple silicon)
    gpu_known: bool = True  # False: nvidia-smi has not answered yet (VRAM taken as none)


@dataclass(frozen=True)
class Fit:
    """How a memory need compares with what is free, and a sentence saying so."""

    label: FitLabel
    need: int
    available: int
    where: str  # "RAM", "VRAM" or "VRAM + RAM"
    text: str
    n_ctx: int = 0  # the context the need was estimated at (0: not known to the estimate)


_gpu: tuple[int, int, str] | None = None
_gpu_lock = threading.Lock()  # one nvidia-smi at a time; a second caller gets its answer


def _nvidia_smi() -> tuple[int, int, str]:
    """(total, free, name) over all NVIDIA GPUs; zeros when there are none or it fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return 0, 0, ""
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT, check=True).stdout
        rows = [[cell.strip() for cell in line.rsplit(",", 2)]
                for line in out.splitlines() if line.strip()]
        total = sum(int(float(row[1])) for row in rows) * MIB
        free = sum(int(float(row[2])) for row in rows) * MIB
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        log.info("No GPU memory figures from nvidia-smi (%s); estimating against RAM", exc)
        return 0, 0, ""
    if not rows:
        return 0, 0, ""
    name = rows[0][0] + (f" ×{len(rows)}" if len(rows) > 1 else "")
    return total, free, name


def probe_gpu(refresh: bool = False) -> tuple[int, int, str]:
    """The GPU memory (total, free, name), asking ``nvidia-smi`` the first time (or when
    ``refresh``). It can take a good part of a second: the GUI calls it in the background."""
    global _gpu
    with _gpu_lock:
        if _gpu is None or refresh:
            _gpu = _nvidia_smi()
        return _gpu


def detect_hardware(refresh_gpu: bool = False, wait_for_gpu: bool = True) -> Hardware:
    """RAM now (psutil) and the GPU memory (read once per process unless ``refresh_gpu``).

    Not ``wait_for_gpu``: if ``nvidia-smi`` has not answered yet, the GPU counts as none
    (``gpu_known`` False) instead of waiting for it.
    """
    memory = psutil.virtual_memory()
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return Hardware(memory.total, memory.available, memory.total, memory.available,
                        "Apple silicon (unified memory)", unified=True)
    gpu = probe_gpu(refresh_gpu) if wait_for_gpu or refresh_gpu else _gpu
    if gpu is None:
        return Hardware(memory.total, memory.available, 0, 0, "", gpu_known=False)
    vram_total, vram_free, name = gpu
    return Hardware(memory.total, memory.available, vram_total, vram_free, name)


def hardware_text(hardware: Hardware) -> str:
    """One line on the memory estimates are made against, for the model manager."""
    ram = f"RAM: {human_size(hardware.ram_available)} free of {human_size(hardware.ram_total)}"
    if hardware.unified:
        return f"{ram} (shared with the GPU: {hardware.gpu_name})"
    if not hardware.gpu_known:
        return f"{ram} · measuring GPU memory…"
    if hardware.vram_total <= 0:
        return f"{ram} · no GPU memory detected (only NVIDIA GPUs are measured)"
    return (f"{ram} · {hardware.gpu_name}: {human_size(hardware.vram_free)} free of "
            f"{human_size(hardware.vram_total)} VRAM")


def estimate_need(info: GGUFInfo, n_ctx: int, type_k: str = "f16", type_v: str = "f16") -> int:
    """Bytes to run the model with ``n_ctx`` tokens of context (weights, KV cache, buffers).

    ``n_ctx`` is the length the load gets: an automatic context (0) is decided first, by
    ``memory.load_context``, as the engine decides it.
    """
    if n_ctx <= 0:
        raise ValueError("decide an automatic context first (memory.load_context)")
    return model_memory_bytes(info, n_ctx, type_k, type_v)


def estimate_need_from_size(file_size: int, n_ctx: int) -> int:
    """A rough need for a model known only by its file size (see the module constants).

    Prefer ``estimate_need`` with the file's header (``gguf_info.read_gguf_header``).
    """
    context = n_ctx if n_ctx > 0 else TYPICAL_CONTEXT
    return file_size + file_size * context // _KV_SHARE_PER_TOKEN + _ROUGH_COMPUTE


def assess(need: int, hardware: Hardware, gpu_layers: int = 0, *, block_count: int = 0) -> Fit:
    """Label a memory need ("fits", "tight", "too big"; see memory.fit_label).

    With GPU layers (``gpu_layers`` -1 = all) and known, separate VRAM, the offloaded share
    (``gpu_layers`` of the model's ``block_count`` layers; all when either is unknown) must
    fit the free VRAM and the rest the available RAM; the worse label wins. Otherwise the
    whole need is compared with the available RAM.
    """
    if gpu_layers == 0 or hardware.vram_total <= 0 or hardware.unified:
        return _single(need, hardware.ram_available, "RAM")
    share = 1.0
    if 0 < gpu_layers < block_count:
        share = gpu_layers / block_count
    on_gpu = int(need * share)
    if on_gpu == need:
        return _single(need, hardware.vram_free, "VRAM")
    on_cpu = need - on_gpu
    labels = (fit_label(on_gpu, hardware.vram_free), fit_label(on_cpu, hardware.ram_available))
    label: FitLabel = max(labels, key=("fits", "tight", "too big").index)
    text = (f"{label}: needs {human_size(on_gpu)} of {human_size(hardware.vram_free)} free "
            f"VRAM and {human_size(on_cpu)} of {human_size(hardware.ram_available)} free RAM")
    return Fit(label, need, hardware.vram_free + hardware.ram_available, "VRAM + RAM", text)


def _single(need: int, available: int, where: str) -> Fit:
    label = fit_label(need, available)
    return Fit(label, need, available, where,
               f"{label}: needs {human_size(need)} of {human_size(available)} free {where}")
