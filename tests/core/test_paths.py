"""The profile location: --data-dir and HEARTH_DATA_DIR put everything in one folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.paths import DATA_DIR_ENV, resolve_paths


def test_data_dir_holds_the_whole_profile(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "p").ensure()
    for location in (paths.database_path, paths.settings_path, paths.log_path,
                     paths.models_dir, paths.cache_dir):
        assert (tmp_path / "p") in location.parents
    assert paths.models_dir.is_dir() and paths.log_dir.is_dir()


def test_environment_variable_and_argument(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))
    assert resolve_paths().data_dir == tmp_path / "env"
    assert resolve_paths(tmp_path / "arg").data_dir == tmp_path / "arg"  # argument wins


def test_default_is_per_user_and_outside_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    paths = resolve_paths()
    repo = Path(__file__).resolve().parents[2]
    assert repo not in paths.data_dir.parents
    assert "hearth" in str(paths.data_dir).lower()
