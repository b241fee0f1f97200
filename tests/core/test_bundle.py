"""A bundle's own files: the built-in library, the environment for other programs, the version."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import pytest

import app
from app.chat.profile import Profile
from app.core import bundle, licences
from app.core.errors import LibraryError
from app.core.library import ModelLibrary
from app.core.paths import resolve_paths
from app.core.starter_model import STARTER, ensure_starter_model


def test_the_version_is_pyprojects() -> None:
    with (Path(__file__).parents[2] / "pyproject.toml").open("rb") as handle:
        assert app.__version__ == tomllib.load(handle)["project"]["version"]


def test_external_programs_get_the_users_library_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    env = bundle.external_program_env({"LD_LIBRARY_PATH": "/bundle/_internal",
                                       "LD_LIBRARY_PATH_ORIG": "/usr/local/lib", "A": "1"})
    assert env == {"LD_LIBRARY_PATH": "/usr/local/lib", "A": "1"}
    assert bundle.external_program_env({"LD_LIBRARY_PATH": "/bundle/_internal"}) == {}
    monkeypatch.delattr(sys, "frozen")
    assert bundle.external_program_env({"LD_LIBRARY_PATH": "/mine"}) == {
        "LD_LIBRARY_PATH": "/mine"}  # from source nothing is changed


def _builtin_profile(tmp_path: Path, starter_gguf: Path, monkeypatch: pytest.MonkeyPatch):
    shipped = tmp_path / "app" / "models"
    shipped.mkdir(parents=True)
    os.link(starter_gguf, shipped / STARTER.file_name)
    monkeypatch.setenv(bundle.BUILTIN_MODELS_ENV, str(shipped))
    return shipped / STARTER.file_name, resolve_paths(tmp_path / "profile").ensure()


def test_the_builtin_model_is_listed_used_and_never_copied_or_deleted(
        tmp_path: Path, starter_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builtin, paths = _builtin_profile(tmp_path, starter_gguf, monkeypatch)
    before = builtin.stat()
    profile = Profile.open(paths)
    assert profile.settings.get("default_model") == str(builtin)  # the first default
    assert ensure_starter_model(paths) == builtin                 # no fetch, no copy
    assert list(paths.models_dir.iterdir()) == []
    [model] = [m for m in profile.library.scan() if m.path == builtin]
    assert model.source == "builtin" and not model.error
    with pytest.raises(LibraryError, match="comes with Hearth"):
        profile.library.delete(model)
    with pytest.raises(LibraryError, match="already in your library"):
        profile.library.import_file(builtin, "copy")
    assert profile.library.import_file(builtin, "link") == builtin
    assert profile.library.linked_files == ()
    after = builtin.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_a_library_without_a_builtin_folder_is_as_before(tmp_path: Path) -> None:
    library = ModelLibrary(tmp_path / "models")
    assert library.builtin_dir is None and library.scan() == []


def test_the_licences_name_every_part(tmp_path: Path) -> None:
    parts = {c.name: c for c in licences.components()}
    starter = next(c for name, c in parts.items() if name.startswith("SmolLM2"))
    assert starter.licence == "Apache-2.0" and starter.text is not None
    assert all(c.text is not None and c.text.is_file() for c in parts.values())
    packages = {c.name.lower().replace("_", "-"): c for c in licences.python_packages()}
    assert {"sqlalchemy", "llama-cpp-python", "pyside6-essentials"} <= packages.keys()
    assert "pytest" not in packages  # test tools are not shipped
    assert packages["sqlalchemy"].licence == "MIT"
