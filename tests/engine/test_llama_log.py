"""llama.cpp's log is captured under Llama(verbose=False) and explains failed loads.

Each load runs in a child process: a crafted file must never be able to take the test run
down, and the log callback is process-wide state.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
from gguf import GGUFWriter

from app.engine.llama_log import (
    LEVEL_CONT,
    LEVEL_DEBUG,
    LEVEL_ERROR,
    LEVEL_INFO,
    LEVEL_WARN,
    LlamaLog,
    explain_load_failure,
)
from tests.engine.conftest import write_unknown_architecture

ROOT = Path(__file__).resolve().parents[2]
KV_BYTES_PER_TOKEN = 23_040  # the starter model, f16 cache

CHILD = """
import json, sys
import llama_cpp
from app.engine import llama_log

log = llama_log.install()
same = llama_log.install() is log
mark = log.mark()
try:
    llama_cpp.Llama(model_path=sys.argv[1], verbose=False, **json.loads(sys.argv[2]))
    error = None
except ValueError as exc:
    error = str(exc)
lines = log.lines_since(mark)
print(json.dumps({"error": error, "lines": lines, "same": same,
                  "why": llama_log.explain_load_failure(lines)}))
"""


def _load(path: Path, **kwargs: Any) -> dict[str, Any]:
    """Load ``path`` with llama.cpp in a child process; its log and the explanation."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), json.dumps(kwargs)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _tiny_llama(path: Path, tensors: dict[str, tuple[int, ...]], vocab: bool = True,
                rms_eps: bool = True) -> Path:
    """A llama-architecture GGUF with a 30-token vocabulary and the given F32 tensors."""
    writer = GGUFWriter(path, "llama")
    writer.add_context_length(128)
    writer.add_block_count(1)
    writer.add_embedding_length(32)
    writer.add_head_count(4)
    writer.add_feed_forward_length(64)
    if rms_eps:
        writer.add_layer_norm_rms_eps(1e-5)
    if vocab:
        tokens = ["<unk>", "<s>", "</s>", "\n"] + [chr(c) for c in range(97, 123)]
        writer.add_tokenizer_model("llama")
        writer.add_token_list(tokens)
        writer.add_token_scores([0.0] * len(tokens))
        writer.add_token_types([2, 3, 3, 1] + [1] * 26)
    for name, shape in tensors.items():
        writer.add_tensor(name, np.zeros(shape, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _unknown_architecture(path: Path, _starter: Path) -> None:
    write_unknown_architecture(path)


def _head(starter: Path, size: int) -> bytearray:
    with starter.open("rb") as handle:
        return bytearray(handle.read(size))


def _truncated(path: Path, starter: Path) -> None:
    with starter.open("rb") as src, path.open("wb") as dst:
        for _ in range(3):
            dst.write(src.read(1 << 20))


def _version(version: bytes) -> Callable[[Path, Path], None]:
    def make(path: Path, starter: Path) -> None:
        data = _head(starter, 65536)
        data[4:8] = version
        path.write_bytes(bytes(data))
    return make


FAILURES: list[tuple[str, Callable[[Path, Path], object], str]] = [
    ("unknown architecture", _unknown_architecture,
     "This model's architecture 'foobar' is not supported by this version of llama.cpp."),
    ("truncated download", _truncated,
     "The model file is incomplete or corrupted: the data of tensor 'token_embd.weight' "
     "lies beyond the end of the file."),
    ("missing tensor", lambda p, _: _tiny_llama(p, {"token_embd.weight": (30, 32)}),
     "The model file lacks the tensor 'output_norm.weight' that its architecture needs: "
     "it is incomplete or was converted wrongly."),
    ("no tensors", lambda p, _: _tiny_llama(p, {}),
     "The model file lacks the tensor 'token_embd.weight'"),
    ("wrong shape", lambda p, _: _tiny_llama(p, {"token_embd.weight": (30, 16)}),
     "The tensor 'token_embd.weight' has the wrong shape for this architecture"),
    ("missing setting", lambda p, _: _tiny_llama(p, {}, rms_eps=False),
     "The model file lacks the setting 'llama.attention.layer_norm_rms_epsilon'"),
    ("no tokenizer", lambda p, _: _tiny_llama(p, {}, vocab=False),
     "llama.cpp could not read the model's tokenizer (key not found in model: "
     "tokenizer.ggml.model)."),
    ("newer GGUF version", _version(struct.pack("<I", 99)),
     "This model file uses GGUF version 99; this version of llama.cpp reads up to version 3."),
    ("GGUF version 1", _version(struct.pack("<I", 1)),
     "This model file uses GGUF version 1, which llama.cpp no longer reads."),
    ("big-endian", _version(struct.pack(">I", 3)),
     "This model file was converted for big-endian computers."),
    ("bad magic", lambda p, s: p.write_bytes(b"GGML" + bytes(_head(s, 4096)[4:])),
     "This is not a GGUF model file."),
    ("garbage metadata", lambda p, _: p.write_bytes(
        struct.pack("<4sIQQ", b"GGUF", 3, 0, 10**12) + bytes(range(256)) * 4),
     "The model file's metadata is damaged."),
]


@pytest.mark.parametrize("make, reason", [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES])
def test_a_failed_load_is_explained(tmp_path: Path, starter_gguf: Path,
                                    make: Callable[[Path, Path], object], reason: str) -> None:
    path = tmp_path / "model.gguf"
    make(path, starter_gguf)
    result = _load(path)
    assert result["error"] == f"Failed to load model from file: {path}"
    assert result["why"] is not None and result["why"].startswith(reason), result["lines"]
    assert result["same"]


def test_running_out_of_memory_is_explained(starter_gguf: Path) -> None:
    overcommit = Path("/proc/sys/vm/overcommit_memory")
    if not overcommit.exists() or overcommit.read_text().strip() == "1":
        pytest.skip("needs Linux that refuses allocations larger than its memory")
    memory = psutil.virtual_memory().total + psutil.swap_memory().total
    n_ctx = -(-4 * memory // KV_BYTES_PER_TOKEN // 256) * 256  # a KV cache of 4× the memory
    if n_ctx > 1 << 24:
        pytest.skip("this machine has too much memory for a quick out-of-memory load")
    result = _load(starter_gguf, n_ctx=n_ctx)
    assert result["error"] == "Failed to create llama_context"
    assert any("failed to allocate" in line for line in result["lines"])
    assert result["why"].startswith(
        "There is not enough free memory to load this model with this context length "
        f"(llama.cpp asked for {n_ctx * KV_BYTES_PER_TOKEN / 1e9:.1f} GB at once).")


def test_a_good_load_is_logged_even_when_not_verbose(starter_gguf: Path) -> None:
    result = _load(starter_gguf, n_ctx=256)
    assert result["error"] is None and result["why"] is None
    assert "print_info: n_layer               = 30" in result["lines"]
    assert any(line.startswith("llama_kv_cache: size =") for line in result["lines"])
    assert len(result["lines"]) <= 200


def _log_of(*messages: tuple[int, bytes | None], capacity: int = 200) -> LlamaLog:
    log = LlamaLog(capacity)
    for level, text in messages:
        log.callback(level, text, None)  # through the C-callable wrapper llama.cpp calls
    return log


def test_the_buffer_is_bounded() -> None:
    log = _log_of(*[(LEVEL_INFO, f"line {i}\n".encode()) for i in range(50)], capacity=10)
    assert log.capacity == 10
    assert log.lines() == [f"line {i}" for i in range(40, 50)]
    mark = log.mark()
    for i in range(50, 75):
        log.feed(LEVEL_INFO, f"line {i}\n".encode())
    assert log.lines_since(mark) == [f"line {i}" for i in range(65, 75)]
    assert log.lines_since(log.mark()) == []


def test_lines_are_assembled_like_llama_cpp_means_them() -> None:
    log = _log_of(
        (LEVEL_INFO, b"load_tensors: loading\n"), (LEVEL_CONT, b"."), (LEVEL_CONT, b"."),
        (LEVEL_CONT, b"\n"), (LEVEL_DEBUG, b"create_tensor: loading tensor x\n"),
        (LEVEL_WARN, b"load: no newline here"), (LEVEL_ERROR, b"two\nlines\n"),
        (LEVEL_DEBUG, b"debug "), (LEVEL_CONT, b"continued\n"), (LEVEL_INFO, None),
        (LEVEL_INFO, "caf\u00e9 \xff\n".encode("latin-1")), (LEVEL_INFO, b"partial"))
    assert log.lines() == ["load_tensors: loading", "..", "load: no newline here", "two",
                           "lines", "caf\ufffd \ufffd", "partial"]
    mark = log.mark()  # the partial line was logged before the mark: it stays there
    log.feed(LEVEL_CONT, b" more\n")
    assert log.lines_since(mark) == [" more"]
    assert log.lines()[-2:] == ["partial", " more"]


@pytest.mark.parametrize("line, reason", [
    ("ggml_aligned_malloc: insufficient memory (attempted to allocate 92160.00 MB)",
     "There is not enough free memory"),
    ("llama_init_from_model: failed to initialize the context: std::bad_alloc",
     "There is not enough free memory"),
    ("llama_model_load: error loading model: mmap failed: Cannot allocate memory",
     "There is not enough free memory"),
    ("read: string length 506097522914230528 exceeds maximum 1073741824",
     "The model file's metadata is damaged."),
    ("gguf_init_from_reader: encountered bad_alloc error while reading key 3",
     "The model file's metadata is damaged."),
    ("gguf_init_from_reader: tensor 'a' has invalid ggml type 250. should be in [0, 43)",
     "The model file's metadata is damaged."),
    ("llama_model_load: error loading model: corrupted model: 290 tensors expected but 272 "
     "found", "The model file is corrupted: it should hold 290 tensors but holds 272."),
    ("llama_model_load: error loading model: something new", "llama.cpp could not load the "
     "model: something new."),
    ("llama_model_load_from_file_impl: failed to load model", None),
    ("print_info: n_layer = 30", None),
])
def test_explanations_of_single_lines(line: str, reason: str | None) -> None:
    why = explain_load_failure([line])
    assert why == reason if reason is None else why.startswith(reason)


def test_the_specific_cause_wins_over_the_generic_error() -> None:
    assert explain_load_failure([
        "gguf_init_from_reader: this GGUF file is version 4 but this software only supports "
        "up to version 3",
        "gguf_init_from_reader: failed to read header",
        "llama_model_load: error loading model: llama_model_loader: failed to load model",
    ]) == "This model file uses GGUF version 4; this version of llama.cpp reads up to version 3."
