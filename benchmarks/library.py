"""Library benchmark: scanning a library of 200 GGUF files, cold and cached.

The library: 20 hard links to the starter model (different names, one file on disk), 170
synthetic models written with ``gguf.GGUFWriter`` (10 kinds, tokenizers of 8k to 64k
entries and a chat template, so their metadata is read like a real model's), and 10
damaged files (truncated in the metadata or the weights, not GGUF, empty).

- cold: an empty metadata cache and every file evicted from the OS page cache
  (``posix_fadvise(DONTNEED)``), as at the first start after a reboot;
- next start: a new ModelLibrary loading the cache file, model files evicted again: the
  scan only stats them (nothing is read from them);
- rescan: the same library scanned again.
Medians of RUNS rounds. Also timed: ``gguf.GGUFReader`` against Hearth's ``read_gguf_info``
on the starter model (warm), the reason Hearth keeps its own reader.

Run: ``python -m benchmarks library [--json]``.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from app.core.gguf_info import read_gguf_info, read_gguf_parts
from app.core.library import ModelLibrary
from benchmarks.driver import format_table, median, scratch_dir, starter_model

RUNS = 5
READER_RUNS = 3
STARTER_LINKS = 20
KINDS = 10
COPIES = 17
GOAL_CACHED_MS_PER_FILE = 3.0
_TEMPLATE = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
             "{{ message['content'] }}<|im_end|>\n{% endfor %}"
             "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _synthetic(path: Path, kind: int) -> None:
    """One synthetic model: a real-looking header, a few small weights."""
    from gguf import GGUFWriter

    arch = ("llama", "qwen2", "gemma2", "phi3", "mistral")[kind % 5]
    vocab = 8192 * (1 + kind % 8)
    writer = GGUFWriter(path, arch)
    writer.add_name(f"Synthetic {arch} {kind}")
    writer.add_context_length(4096 << (kind % 3))
    writer.add_block_count(24)
    writer.add_embedding_length(896)
    writer.add_head_count(14)
    writer.add_head_count_kv(2)
    writer.add_file_type(15)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"tok{i}" for i in range(vocab)])
    writer.add_token_types([1] * vocab)
    writer.add_token_merges([f"t{i} o{i}" for i in range(vocab // 2)])
    writer.add_chat_template(_TEMPLATE)
    for index in range(24):
        writer.add_tensor(f"blk.{index}.weight", np.ones((64, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def build(folder: Path, starter: Path, progress: Callable[[str], None]) -> list[Path]:
    """Write the 200-file library into ``folder``; return the files."""
    folder.mkdir(parents=True)
    kinds = folder.parent / "kinds"
    kinds.mkdir()
    for index in range(STARTER_LINKS):
        os.link(starter, folder / f"starter-{index:02d}.Q4_1.gguf")
    progress(f"  writing {KINDS} kinds of synthetic model…")
    for kind in range(KINDS):
        _synthetic(kinds / f"kind-{kind}.gguf", kind)
    for kind in range(KINDS):
        data = (kinds / f"kind-{kind}.gguf").read_bytes()
        for copy in range(COPIES):
            (folder / f"synthetic-{kind}-{copy:02d}.Q4_K_M.gguf").write_bytes(data)
    sample = (kinds / "kind-7.gguf").read_bytes()
    damaged = {"cut-in-metadata": sample[:len(sample) // 3],
               "cut-in-weights": sample[:-1000], "empty": b"",
               "html-error-page": b"<!DOCTYPE html><title>404</title>" + bytes(200)}
    rng = random.Random(7)
    for index in range(10):
        name, data = list(damaged.items())[index % len(damaged)]
        if index >= len(damaged):
            data = rng.randbytes(4096) if index % 2 else data
        (folder / f"damaged-{index}-{name}.gguf").write_bytes(data)
    os.sync()  # written pages must be clean before they can be evicted
    return sorted(folder.iterdir())


def _evict(files: list[Path]) -> None:
    for path in files:
        with path.open("rb") as handle:
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


class _Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, parts: Any) -> Any:
        self.calls += 1
        return read_gguf_parts(parts)


def scan(starter: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    """Cold, next-start and rescan timings of the 200-file library."""
    root = scratch_dir()
    files = build(root / "models", starter, progress)
    cold, start, rescan, reads = [], [], [], []
    unusable = 0
    for round_no in range(RUNS):
        cache = root / f"cache-{round_no}" / "model-metadata.json"
        _evict(files)
        began = time.perf_counter()
        models = ModelLibrary(root / "models", cache).scan()
        cold.append(time.perf_counter() - began)
        unusable = sum(1 for m in models if m.error)
        _evict(files)
        counter = _Counter()
        began = time.perf_counter()
        library = ModelLibrary(root / "models", cache, reader=counter)
        library.scan()
        start.append(time.perf_counter() - began)
        began = time.perf_counter()
        library.scan()
        rescan.append(time.perf_counter() - began)
        reads.append(counter.calls)
        progress(f"  round {round_no + 1}: cold {cold[-1] * 1000:.0f} ms, next start "
                 f"{start[-1] * 1000:.1f} ms, rescan {rescan[-1] * 1000:.1f} ms")
    return {"files": len(files), "models": len(models), "unusable": unusable,
            "cold_ms": median(cold) * 1000, "start_ms": median(start) * 1000,
            "rescan_ms": median(rescan) * 1000, "cached_file_reads": max(reads),
            "cache_kb": cache.stat().st_size / 1000}


def reader(starter: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    """gguf.GGUFReader against read_gguf_info on the starter model (warm page cache)."""
    from gguf import GGUFReader

    read_gguf_info(starter)
    ours = []
    for _ in range(RUNS * 2):
        began = time.perf_counter()
        read_gguf_info(starter)
        ours.append(time.perf_counter() - began)
    theirs = []
    for _ in range(READER_RUNS):
        began = time.perf_counter()
        GGUFReader(starter)
        theirs.append(time.perf_counter() - began)
        progress(f"  GGUFReader: {theirs[-1] * 1000:.0f} ms")
    return {"gguf_reader_ms": median(theirs) * 1000, "read_gguf_info_ms": median(ours) * 1000}


PARTS = {"scan": scan, "reader": reader}


def run(model: str | None = None, progress: Callable[[str], None] = print,
        only: list[str] | None = None) -> dict[str, Any]:
    """Run the library benchmarks (``only`` some of PARTS); return the figures."""
    starter = Path(model or starter_model(progress))
    result: dict[str, Any] = {"benchmark": "library", "model": str(starter)}
    for name, part in PARTS.items():
        if not only or name in only:
            result[name] = part(starter, progress)
    return result


def table(r: dict[str, Any]) -> str:
    """The results as a text table with the goals."""
    rows = []
    if "scan" in r:
        s = r["scan"]
        n = s["files"]
        rows += [
            (f"cold scan: empty cache, files evicted ({s['unusable']} unusable listed)",
             f"{s['cold_ms']:.0f} ms = {s['cold_ms'] / n:.2f} ms/file", "—"),
            ("next start: cache file loaded, model files evicted",
             (f"{s['start_ms']:.1f} ms = {s['start_ms'] / n:.3f} ms/file; "
             f"{s['cached_file_reads']} files read"), f"< {GOAL_CACHED_MS_PER_FILE:g} ms/file"),
            ("rescan with the same library",
             f"{s['rescan_ms']:.1f} ms = {s['rescan_ms'] / n:.3f} ms/file",
             f"< {GOAL_CACHED_MS_PER_FILE:g} ms/file"),
            ("metadata cache file", f"{s['cache_kb']:.0f} KB for {s['models']} models", ""),
        ]
    if "reader" in r:
        g = r["reader"]
        rows.append(("starter model metadata: gguf.GGUFReader vs read_gguf_info (warm)",
                     (f"{g['gguf_reader_ms']:.0f} vs {g['read_gguf_info_ms']:.1f} ms = "
                     f"{g['gguf_reader_ms'] / g['read_gguf_info_ms']:.0f}× slower"), ""))
    title = f"library benchmark · {r['scan']['files'] if 'scan' in r else 0} GGUF files, " \
            f"median of {RUNS} rounds"
    return format_table(title, rows)
