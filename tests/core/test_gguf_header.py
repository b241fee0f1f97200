"""Reading a model from the first bytes of a remote file, and split models part by part."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.core.errors import ModelFileError
from app.core.gguf_info import (
    IncompleteHeader,
    read_gguf_header,
    read_gguf_info,
    read_gguf_parts,
)
from tests.gguf_files import write_gguf

NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _head(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def test_the_starter_model_from_its_first_bytes(starter_gguf: Path) -> None:
    size = starter_gguf.stat().st_size
    fetched, rounds = 16 * 1024, 1
    while True:
        try:
            info = read_gguf_header(_head(starter_gguf, fetched), size, NAME)
            break
        except IncompleteHeader as more:
            assert more.needed_bytes >= 2 * fetched  # each round at least doubles
            fetched, rounds = more.needed_bytes, rounds + 1
    assert rounds <= 10 and fetched < 4 * 1024 * 1024  # the header is about 1.8 MB
    assert info == dataclasses.replace(read_gguf_info(starter_gguf), path=Path(NAME))


@pytest.mark.parametrize("cut", [0, 10, 23, 24, 1000, 500_000])
def test_cut_short_asks_for_more(starter_gguf: Path, cut: int) -> None:
    size = starter_gguf.stat().st_size
    with pytest.raises(IncompleteHeader) as more:
        read_gguf_header(_head(starter_gguf, cut), size, NAME)
    assert cut < more.value.needed_bytes <= size
    assert more.value.needed_bytes >= min(24, 2 * cut)


def test_a_small_file_needs_no_weights_and_is_never_asked_past_its_end(tmp_path: Path) -> None:
    data = write_gguf(tmp_path / "m.gguf").read_bytes()
    with pytest.raises(IncompleteHeader) as more:
        read_gguf_header(data[:100], len(data), "m.gguf")
    assert more.value.needed_bytes == 200
    assert read_gguf_header(data[:200], len(data), "m.gguf").tensor_count == 1
    with pytest.raises(IncompleteHeader) as more:
        read_gguf_header(data[:100], 150, "m.gguf")
    assert more.value.needed_bytes == 150


def test_damage_in_the_first_bytes_is_still_an_error(starter_gguf: Path) -> None:
    head = _head(starter_gguf, 4 * 1024 * 1024)
    with pytest.raises(ModelFileError, match="'x.gguf' is not a GGUF model file"):
        read_gguf_header(b"<!DOCTYPE html>" + bytes(100), 5000, "x.gguf")
    with pytest.raises(ModelFileError, match=r"'s.gguf' is incomplete: it ends at 90\.0 MB but "
                                             r"its tensors need 98\.4 MB"):
        read_gguf_header(head, 90_000_000, "s.gguf")
    with pytest.raises(ModelFileError, match="metadata is damaged"):
        read_gguf_header(head[:500_000], 500_000, "s.gguf")  # the file really ends there


def test_the_first_part_of_a_split_model_may_hold_no_weights(tmp_path: Path) -> None:
    first = write_gguf(tmp_path / "m.gguf", tensors=4, parts=3, small_first_part=True)
    data = first.read_bytes()
    info = read_gguf_header(data, len(data), first.name, model_size=123_456)
    assert (info.architecture, info.tensor_count, info.file_size) == ("llama", 0, 123_456)
    plain = write_gguf(tmp_path / "no-weights.gguf", tensors=0).read_bytes()
    with pytest.raises(ModelFileError, match="contains no model weights"):
        read_gguf_header(plain, len(plain), "no-weights.gguf")


def test_every_part_of_a_split_model_is_checked(tmp_path: Path) -> None:
    first = write_gguf(tmp_path / "m.gguf", tensors=6, parts=3)
    parts = [first.with_name(f"m-0000{n}-of-00003.gguf") for n in (1, 2, 3)]
    info = read_gguf_parts(parts)
    assert (info.path, info.tensor_count, info.parameter_count) == (first, 6, 6 * 32)
    assert info.file_size == sum(p.stat().st_size for p in parts)
    with pytest.raises(ModelFileError, match="says the model has 3 parts, but 2 belong"):
        read_gguf_parts(parts[:2])
    parts[2].write_bytes(parts[2].read_bytes()[:-16])
    with pytest.raises(ModelFileError, match="'m-00003-of-00003.gguf' is incomplete"):
        read_gguf_parts(parts)
    assert read_gguf_parts([parts[0]]).tensor_count == 2  # a part alone is still a file
