"""Sizes, speeds and durations as short texts for people (decimal units, like file managers)."""

from __future__ import annotations


def human_size(num_bytes: float) -> str:
    """E.g. '512 bytes', '98.4 MB', '4.37 GB'."""
    if num_bytes < 1000:
        return f"{num_bytes:.0f} bytes"
    if num_bytes < 1e6:
        return f"{num_bytes / 1e3:.0f} KB"
    if num_bytes < 1e9:
        return f"{num_bytes / 1e6:.1f} MB"
    return f"{num_bytes / 1e9:.2f} GB"


def human_speed(bytes_per_second: float) -> str:
    """E.g. '12.3 MB/s'."""
    return f"{human_size(bytes_per_second)}/s"


def human_duration(seconds: float) -> str:
    """A rounded remaining time: '8 s', '3 min', '1 h 20 min'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
