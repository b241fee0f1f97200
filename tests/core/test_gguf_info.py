"""Reading a GGUF file's facts, and clear messages for every kind of broken file."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil
import pytest
from gguf import GGUFWriter

from app.core.errors import ModelFileError
from app.core.gguf_info import quantization_label, read_gguf_info


def _write_gguf(path: Path, arch: str | None = "llama", tensors: int = 1,
                kv: dict[str, int] | None = None) -> Path:
    """A small valid GGUF: ``tensors`` F32 weights of 8×4, optional extra uint32 keys."""
    writer = GGUFWriter(path, arch or "none")
    if arch is None:
        writer.kv_data[0].pop("general.architecture")
    for key, value in (kv or {}).items():
        writer.add_uint32(key, value)
    for index in range(tensors):
        writer.add_tensor(f"weights.{index}", np.ones((8, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _copy_head(source: Path, target: Path, size: int) -> None:
    """The first ``size`` bytes of ``source`` (like an interrupted download), in chunks."""
    with source.open("rb") as src, target.open("wb") as dst:
        left = size
        while left:
            chunk = src.read(min(left, 1 << 20))
            dst.write(chunk)
            left -= len(chunk)


def _header(version: int = 3, tensors: int = 0, kvs: int = 0, magic: bytes = b"GGUF") -> bytes:
    return struct.pack("<4sIQQ", magic, version, tensors, kvs)


def _string_kv(key: str, value: str) -> bytes:
    def text(s: str) -> bytes:
        return struct.pack("<Q", len(s)) + s.encode()
    return text(key) + struct.pack("<I", 8) + text(value)


def _garbage(n: int) -> bytes:
    return random.Random(1234).randbytes(n)


def _bad_tensor_type(path: Path) -> None:
    _write_gguf(path)
    data = bytearray(path.read_bytes())
    at = data.index(b"weights.0") + len(b"weights.0")
    n_dims = struct.unpack_from("<I", data, at)[0]
    struct.pack_into("<I", data, at + 4 + 8 * n_dims, 250)
    path.write_bytes(bytes(data))


def _truncated_small(path: Path) -> None:
    _write_gguf(path, tensors=3)
    path.write_bytes(path.read_bytes()[:-40])


BROKEN: list[tuple[str, Callable[[Path], object], str]] = [
    ("missing", lambda p: None, r"'model\.gguf' does not exist"),
    ("folder", lambda p: p.mkdir(), r"'model\.gguf' is not a file"),
    ("empty", lambda p: p.write_bytes(b""), r"'model\.gguf' is empty"),
    ("too short", lambda p: p.write_bytes(b"GGUF\x03\x00"), "too short to be a model"),
    ("bad magic", lambda p: p.write_bytes(_header(magic=b"GGML") + bytes(64)),
     "not a GGUF model file"),
    ("random bytes", lambda p: p.write_bytes(_garbage(4096)), "not a GGUF model file"),
    ("version 99", lambda p: p.write_bytes(_header(version=99)), "GGUF version 99"),
    ("version 1", lambda p: p.write_bytes(_header(version=1)), "GGUF version 1,"),
    ("big-endian", lambda p: p.write_bytes(struct.pack(">4sIQQ", b"GGUF", 3, 0, 0)),
     "big-endian"),
    ("garbage metadata", lambda p: p.write_bytes(_header(kvs=5) + _garbage(4096)),
     r"its metadata is damaged \(metadata entry 1 runs past the end"),
    ("huge metadata count", lambda p: p.write_bytes(_header(kvs=10**12) + bytes(512)),
     r"metadata is damaged \(it claims 1,000,000,000,000 metadata entries"),
    ("huge tensor count", lambda p: p.write_bytes(
        _header(tensors=2**40, kvs=1) + _string_kv("general.architecture", "llama")
        + bytes(512)), r"metadata is damaged \(it claims 1,099,511,627,776 tensors"),
    ("unknown value type", lambda p: p.write_bytes(
        _header(kvs=1) + struct.pack("<Q", 3) + b"key" + struct.pack("<I", 77) + bytes(8)),
     r"metadata entry 'key' has an unknown value type \(77\)"),
    ("unknown tensor type", _bad_tensor_type, r"tensor 'weights\.0' has an unknown data type"),
    ("missing architecture", lambda p: _write_gguf(p, arch=None),
     "general.architecture is missing"),
    ("no tensors", lambda p: _write_gguf(p, tensors=0), "contains no model weights"),
    ("truncated tensor data", _truncated_small,
     "is incomplete: it ends at 568 bytes but its tensors need 608 bytes"),
]


@pytest.mark.parametrize("make, message", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_files_get_specific_messages(tmp_path: Path, make: Callable[[Path], object],
                                            message: str) -> None:
    path = tmp_path / "model.gguf"
    make(path)
    with pytest.raises(ModelFileError, match=message) as caught:
        read_gguf_info(path)
    assert caught.value.hint


def test_an_unreadable_file_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write_gguf(tmp_path / "model.gguf")

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(ModelFileError, match="cannot be read: Permission denied"):
        read_gguf_info(path)


def test_a_truncated_download_names_both_sizes(tmp_path: Path, starter_gguf: Path) -> None:
    path = tmp_path / "SmolLM2.gguf"
    _copy_head(starter_gguf, path, 3_000_000)
    with pytest.raises(ModelFileError) as caught:
        read_gguf_info(path)
    assert caught.value.message == ("The model file 'SmolLM2.gguf' is incomplete: it ends at "
                                    "3.0 MB but its tensors need 98.4 MB.")
    assert caught.value.hint == "Download it again."


def test_a_download_cut_inside_the_vocabulary_is_damaged_metadata(
        tmp_path: Path, starter_gguf: Path) -> None:
    path = tmp_path / "SmolLM2.gguf"
    _copy_head(starter_gguf, path, 500_000)  # the tokenizer arrays run to about 1.8 MB
    with pytest.raises(ModelFileError,
                       match=r"metadata is damaged \(metadata entry 'tokenizer\.ggml\.\w+' "
                             "runs past the end of the file"):
        read_gguf_info(path)


def test_the_starter_model(starter_gguf: Path) -> None:
    info = read_gguf_info(starter_gguf)
    assert (info.architecture, info.version, info.file_type, info.quantization) == \
        ("llama", 3, 3, "Q4_1")
    assert info.file_size == starter_gguf.stat().st_size == 98_362_432
    assert (info.context_length, info.block_count, info.embedding_length) == (8192, 30, 576)
    assert (info.head_count, info.head_count_kv, info.key_length, info.value_length) == \
        (9, 3, 64, 64)
    assert info.vocab_size == 49152
    assert info.chat_template and "<|im_start|>" in info.chat_template
    assert (info.bos_token_id, info.eos_token_id) == (1, 2)
    assert (info.name, info.size_label, info.license) == \
        ("Smollm2 135M 8k Lc100K Mix1 Ep2", "135M", "apache-2.0")
    assert info.tensor_count == 272
    assert info.parameter_count == 134_515_008  # llama.cpp prints "model params = 134.52 M"


def test_keys_the_file_states_override_the_defaults(tmp_path: Path) -> None:
    path = _write_gguf(tmp_path / "m.gguf", kv={
        "llama.embedding_length": 4096, "llama.attention.head_count": 32,
        "llama.attention.key_length": 192, "general.file_type": 15})
    info = read_gguf_info(path)
    assert info.head_count_kv == 32  # no head_count_kv: every head has its own K and V
    assert (info.key_length, info.value_length) == (192, 128)
    assert info.quantization == "Q4_K_M"
    assert info.chat_template is None and info.bos_token_id is None and info.name == ""


def test_without_a_file_type_the_dominant_tensor_type_is_named(tmp_path: Path) -> None:
    info = read_gguf_info(_write_gguf(tmp_path / "m.gguf", tensors=2))
    assert (info.file_type, info.quantization) == (None, "F32")
    assert (info.parameter_count, info.tensor_count) == (64, 2)


@pytest.mark.parametrize("file_type, label", [
    (0, "F32"), (1, "F16"), (2, "Q4_0"), (3, "Q4_1"), (7, "Q8_0"), (8, "Q5_0"), (9, "Q5_1"),
    (10, "Q2_K"), (11, "Q3_K_S"), (12, "Q3_K_M"), (13, "Q3_K_L"), (14, "Q4_K_S"),
    (15, "Q4_K_M"), (16, "Q5_K_S"), (17, "Q5_K_M"), (18, "Q6_K"), (30, "IQ4_XS"),
    (32, "BF16"), (None, ""), (5, "type 5"),
])
def test_quantization_labels(file_type: int | None, label: str) -> None:
    assert quantization_label(file_type) == label


def _holds(path: Path) -> bool:
    process = psutil.Process()
    held = {Path(f.path) for f in process.open_files()}
    if hasattr(process, "memory_maps"):
        held |= {Path(m.path) for m in process.memory_maps()}
    return path.resolve() in held


def test_the_file_is_released_afterwards(tmp_path: Path, starter_gguf: Path) -> None:
    read_gguf_info(starter_gguf)
    assert not _holds(starter_gguf)
    small = _write_gguf(tmp_path / "small.gguf")
    read_gguf_info(small)
    assert not _holds(small)
    small.unlink()


def test_the_file_is_released_after_an_error(tmp_path: Path, starter_gguf: Path) -> None:
    path = tmp_path / "model.gguf"
    _copy_head(starter_gguf, path, 3_000_000)
    with pytest.raises(ModelFileError):
        read_gguf_info(path)
    assert not _holds(path)
    path.unlink()
