"""Facts about this computer that engine defaults depend on."""

from __future__ import annotations

import os

import psutil


def physical_cores() -> int:
    """Physical CPU cores (llama.cpp runs fastest with one thread per core)."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def logical_cores() -> int:
    """Logical CPUs (hardware threads)."""
    return psutil.cpu_count(logical=True) or os.cpu_count() or 1
