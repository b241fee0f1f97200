"""The metadata cache: a cached scan opens no model file; changes, damage and vanished files."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import ModelFileError
from app.core.gguf_info import GGUFInfo, read_gguf_parts
from app.core.library import ModelLibrary
from tests.gguf_files import write_gguf

_opened: list[str] | None = None  # while a list, every file opened in this process is added
_hooked = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], str | bytes | Path):
        _opened.append(os.fsdecode(args[0]))


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """Paths of the files opened during the test (by anything in this process)."""
    global _opened, _hooked
    if not _hooked:  # an audit hook cannot be removed: installed once, idle between tests
        sys.addaudithook(_audit)
        _hooked = True
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


class CountingReader:
    """read_gguf_parts, counting the models it reads."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def __call__(self, parts: Sequence[Path]) -> GGUFInfo:
        self.read.append(Path(parts[0]).name)
        return read_gguf_parts(parts)


@pytest.fixture
def profile(tmp_path: Path) -> tuple[Path, Path]:
    """A models folder with a plain model, a split model and a damaged file; the cache path."""
    models = tmp_path / "models"
    write_gguf(models / "plain.gguf", name="Plain", context=4096)
    write_gguf(models / "split.gguf", tensors=2, parts=2)
    (models / "damaged.gguf").write_bytes(b"GGUF" + bytes(4))
    return models, tmp_path / "cache" / "model-metadata.json"


def _scan(models: Path, cache: Path) -> tuple[list[Any], CountingReader]:
    reader = CountingReader()
    return ModelLibrary(models, cache, reader=reader).scan(), reader


def test_a_cached_scan_opens_no_model_file(profile: tuple[Path, Path],
                                           opened: list[str]) -> None:
    models, cache = profile
    first, reader = _scan(models, cache)
    assert sorted(reader.read) == ["damaged.gguf", "plain.gguf", "split-00001-of-00002.gguf"]
    assert any(path.startswith(str(models)) for path in opened)  # the audit hook works
    opened.clear()
    again, reader = _scan(models, cache)  # a new library, as at the next start
    assert reader.read == []
    assert [p for p in opened if p.startswith(str(models))] == []
    assert again == first  # the same facts, errors and hints
    assert {m.name: m.error for m in again}["damaged"].startswith("The model file 'damaged.gguf'")


def test_a_changed_file_is_read_again(profile: tuple[Path, Path]) -> None:
    models, cache = profile
    _scan(models, cache)
    write_gguf(models / "plain.gguf", name="Replaced", context=8192)
    part = models / "split-00002-of-00002.gguf"
    stat = part.stat()
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # touched, same size
    scanned, reader = _scan(models, cache)
    assert sorted(reader.read) == ["plain.gguf", "split-00001-of-00002.gguf"]
    info = {m.name: m.info for m in scanned}["plain"]
    assert info is not None and (info.name, info.context_length) == ("Replaced", 8192)


def test_a_part_that_appears_or_vanishes_changes_the_entry(profile: tuple[Path, Path]) -> None:
    models, cache = profile
    _scan(models, cache)
    (models / "split-00002-of-00002.gguf").unlink()
    scanned, reader = _scan(models, cache)
    assert reader.read == []  # a missing part is found by the scan, not by reading
    assert {m.name: m.error for m in scanned}["split"].startswith("Part 2 of 2")
    write_gguf(models / "split.gguf", tensors=2, parts=2)
    scanned, reader = _scan(models, cache)
    assert reader.read == ["split-00001-of-00002.gguf"]


def test_vanished_files_are_dropped_and_an_unchanged_cache_is_not_rewritten(
        profile: tuple[Path, Path]) -> None:
    models, cache = profile
    _scan(models, cache)
    os.utime(cache, ns=(1, 1))
    _scan(models, cache)
    assert cache.stat().st_mtime_ns == 1
    (models / "damaged.gguf").unlink()
    _scan(models, cache)
    entries = json.loads(cache.read_text())["entries"]
    assert sorted(Path(key).name for key in entries) == ["plain.gguf", "split-00001-of-00002.gguf"]
    assert [p.name for p in cache.parent.iterdir()] == [cache.name]  # no temporary file left


@pytest.mark.parametrize("content", [
    "{not json", json.dumps([1, 2]), json.dumps({"version": 999, "entries": {}}),
    json.dumps({"version": 1, "fields": ["old"], "entries": {}}),
])
def test_a_damaged_or_foreign_cache_is_rebuilt_quietly(
        profile: tuple[Path, Path], caplog: pytest.LogCaptureFixture, content: str) -> None:
    models, cache = profile
    cache.parent.mkdir(parents=True)
    cache.write_text(content)
    scanned, reader = _scan(models, cache)
    assert len(reader.read) == 3 and len(scanned) == 3
    assert any("rebuilding it" in r.getMessage() and r.levelno == logging.INFO
               for r in caplog.records)
    assert json.loads(cache.read_text())["version"] == 1
    assert _scan(models, cache)[1].read == []


def test_a_damaged_entry_is_read_again(profile: tuple[Path, Path]) -> None:
    models, cache = profile
    _scan(models, cache)
    document = json.loads(cache.read_text())
    key = str(models / "plain.gguf")
    document["entries"][key]["info"]["unexpected"] = 1
    cache.write_text(json.dumps(document))
    assert _scan(models, cache)[1].read == ["plain.gguf"]


def test_access_problems_are_not_cached(profile: tuple[Path, Path]) -> None:
    models, cache = profile
    calls: list[str] = []

    def locked(parts: Sequence[Path]) -> GGUFInfo:
        calls.append(parts[0].name)
        try:
            raise PermissionError(13, "Permission denied")
        except OSError as exc:
            raise ModelFileError(f"The model file '{parts[0].name}' cannot be read: "
                                 "Permission denied.") from exc

    for _ in range(2):
        scanned = ModelLibrary(models, cache, reader=locked).scan()
        assert all("Permission denied" in m.error for m in scanned)
    assert len(calls) == 6  # asked again every time: the file may be readable by now


@pytest.mark.allow_warnings
def test_a_cache_that_cannot_be_saved_is_a_warning_only(
        profile: tuple[Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    models, cache = profile
    cache.parent.parent.joinpath("cache").write_text("a file where the folder should be")
    scanned, _reader = _scan(models, cache)
    assert len(scanned) == 3
    assert [r.getMessage().split(":")[0] for r in caplog.records
            if r.levelno >= logging.WARNING] == [f"Could not save the model metadata cache {cache}"]
