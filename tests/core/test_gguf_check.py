"""The quick model-file check: clear messages for the common bad inputs."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from app.core.errors import ModelFileError
from app.core.gguf_check import check_model_file


def _header(magic: bytes = b"GGUF", version: int = 3) -> bytes:
    return struct.pack("<4sIQQ", magic, version, 0, 0)


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "not a file"),
    (lambda p: p.write_bytes(b""), "empty or truncated"),
    (lambda p: p.write_bytes(b"GGUF\x03"), "empty or truncated"),
    (lambda p: p.write_bytes(_header(magic=b"GGML") + b"x" * 100), "not a GGUF"),
    (lambda p: p.write_bytes(b"\x89PNG" + bytes(range(200))), "not a GGUF"),
    (lambda p: p.write_bytes(_header(version=99)), "version 99"),
])
def test_bad_files_get_clear_messages(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "model.gguf"
    make(path)
    with pytest.raises(ModelFileError, match=message) as caught:
        check_model_file(path)
    assert caught.value.hint


def test_the_real_model_passes(starter_gguf: Path) -> None:
    check_model_file(starter_gguf)
