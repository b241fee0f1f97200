"""Changing the library: importing (copy or link) and deleting, with their refusals."""

from __future__ import annotations

import errno
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.chat.profile import Profile
from app.core import model_import
from app.core.errors import LibraryError, ModelFileError
from app.core.library import ModelLibrary
from app.core.model_import import ImportCancelled, copy_model, remove_abandoned_imports
from app.core.paths import Paths
from tests.gguf_files import write_gguf


@pytest.fixture
def library(tmp_path: Path) -> ModelLibrary:
    return ModelLibrary(tmp_path / "models")


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_copy_import_of_a_split_model(library: ModelLibrary, tmp_path: Path) -> None:
    first = write_gguf(tmp_path / "downloads" / "Big.gguf", tensors=3, parts=3)
    seen: list[tuple[int, int]] = []
    second = first.with_name("Big-00002-of-00003.gguf")
    path = library.import_file(second, "copy", progress=lambda done, total: seen.append((done,
                                                                                          total)))
    assert path == library.models_dir / "Big-00001-of-00003.gguf"
    assert _files(library.models_dir) == [f"Big-0000{n}-of-00003.gguf" for n in (1, 2, 3)]
    total = sum(p.stat().st_size for p in first.parent.iterdir())
    assert seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    (model,) = library.scan()
    assert (model.source, model.size, model.error) == ("library", total, "")
    assert _files(first.parent) == _files(library.models_dir)  # the originals stay


def test_a_broken_file_is_refused_before_anything_is_copied(library: ModelLibrary,
                                                            tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError, match="'bad.gguf' is not a GGUF model file"):
        library.import_file(bad, "copy")
    half = write_gguf(tmp_path / "half.gguf", tensors=2, parts=2)
    half.with_name("half-00002-of-00002.gguf").unlink()
    with pytest.raises(ModelFileError, match="'half-00002-of-00002.gguf' does not exist"):
        library.import_file(half, "link")
    assert _files(library.models_dir) == [] and library.linked_files == ()


def test_a_name_clash_is_refused(library: ModelLibrary, tmp_path: Path) -> None:
    write_gguf(library.models_dir / "m.gguf", name="mine")
    source = write_gguf(tmp_path / "m.gguf", name="theirs")
    with pytest.raises(LibraryError, match="already has a file named 'm.gguf'"):
        library.import_file(source, "copy")
    (model,) = library.scan()
    assert model.info is not None and model.info.name == "mine"
    with pytest.raises(LibraryError, match="'m.gguf' is already in your library"):
        library.import_file(library.models_dir / "m.gguf", "copy")


def test_cancel_leaves_nothing_behind(library: ModelLibrary, tmp_path: Path) -> None:
    first = write_gguf(tmp_path / "Big.gguf", tensors=2, parts=2)
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        cancel.set()  # after the first part is complete

    with pytest.raises(ImportCancelled):
        library.import_file(first, "copy", progress=progress, cancel=cancel)
    assert _files(library.models_dir) == []  # no temporary file, no first part alone


def test_not_enough_space_is_refused_up_front(tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "m.gguf")
    target = tmp_path / "models"
    with pytest.raises(LibraryError, match=r"Not enough disk space to import 'm\.gguf': it "
                                           r"needs 256 bytes, 1 KB are free in "):
        copy_model([source], target, space=lambda folder: 1000)
    assert _files(target) == []


def test_a_disk_that_fills_up_during_the_copy(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    first = write_gguf(tmp_path / "Big.gguf", tensors=2, parts=2)
    parts = [first, first.with_name("Big-00002-of-00002.gguf")]
    real_copy = model_import._Copier.copy

    def copy(self: model_import._Copier, source: Path, target: Path) -> None:
        real_copy(self, source, target)
        if source == parts[1]:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(model_import._Copier, "copy", copy)
    with pytest.raises(LibraryError, match="The disk became full while importing "
                                           "'Big-00001-of-00002.gguf'; nothing was added"):
        copy_model(parts, tmp_path / "models")
    assert _files(tmp_path / "models") == []


def test_link_import_lists_the_file_where_it_is(library: ModelLibrary, tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "lmstudio" / "m.gguf")
    assert library.import_file(source, "link") == source
    assert library.linked_files == (source,)
    (model,) = library.scan()
    assert (model.source, model.path) == ("file", source)
    assert _files(library.models_dir) == []


def test_delete_a_library_model_removes_every_part(library: ModelLibrary) -> None:
    write_gguf(library.models_dir / "Big.gguf", tensors=2, parts=2)
    write_gguf(library.models_dir / "keep.gguf")
    big = next(m for m in library.scan() if m.name == "Big")
    library.delete(big)
    assert _files(library.models_dir) == ["keep.gguf"]


def test_deleting_a_downloaded_model_removes_its_empty_repo_folders(
        library: ModelLibrary) -> None:
    write_gguf(library.models_dir / "alice" / "M-GGUF" / "m-Q4_0.gguf")
    write_gguf(library.models_dir / "alice" / "Other-GGUF" / "o-Q4_0.gguf")
    write_gguf(library.models_dir / "alice" / "M-GGUF" / "notes" / "keep.gguf")
    first = next(m for m in library.scan() if m.name == "m-Q4_0")
    library.delete(first)
    assert (library.models_dir / "alice" / "M-GGUF").is_dir()  # not empty: kept
    other = next(m for m in library.scan() if m.name == "o-Q4_0")
    library.delete(other)
    assert not (library.models_dir / "alice" / "Other-GGUF").exists()
    assert (library.models_dir / "alice").is_dir() and library.models_dir.is_dir()


def test_a_loaded_model_cannot_be_deleted(library: ModelLibrary) -> None:
    path = write_gguf(library.models_dir / "busy.gguf")
    (model,) = library.scan()
    with pytest.raises(LibraryError, match="'busy' is loaded, so it cannot be deleted now"):
        library.delete(model, loaded=[str(path)])
    assert path.exists()
    library.delete(model, loaded=[library.models_dir / "other.gguf"])
    assert not path.exists()


def test_linked_files_are_unlinked_never_deleted(library: ModelLibrary, tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "mine.gguf")
    library.link_file(source)
    (model,) = library.scan()
    library.delete(model)
    assert source.exists() and library.linked_files == () and library.scan() == []


def test_files_in_linked_folders_are_not_deleted(library: ModelLibrary, tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "lmstudio" / "org" / "theirs.gguf")
    library.link_folder(tmp_path / "lmstudio")
    (model,) = library.scan()
    with pytest.raises(LibraryError, match="is in the linked folder") as refused:
        library.delete(model)
    assert "unlink the folder" in refused.value.hint
    assert source.exists()
    library.unlink_folder(tmp_path / "lmstudio")
    assert library.scan() == [] and source.exists()


def test_a_folder_read_beforehand_is_linked_without_reading_it_again(
        library: ModelLibrary, tmp_path: Path) -> None:
    folder = tmp_path / "lmstudio"
    write_gguf(folder / "org" / "a.gguf")
    write_gguf(folder / "org" / "b.gguf", parts=2, tensors=2)
    known = ModelLibrary.read_folder(folder)  # as the window does on a worker thread
    assert known.reads == 2
    library.link_folder(folder, known=known)
    models = library.scan()
    assert sorted(m.name for m in models) == ["a", "b"] and not any(m.error for m in models)
    assert library.cache.reads == 0  # every header came from the earlier read


_KILLED_COPY = """
import sys, threading
from pathlib import Path
from app.core.model_import import copy_model

def stall(done, total):
    print(done, flush=True)       # the parent kills us once a piece is on disk
    threading.Event().wait()

copy_model([Path(sys.argv[1])], Path(sys.argv[2]), progress=stall)
"""


def test_a_copy_killed_part_way_leaves_nothing_after_the_next_start(
        tmp_path: Path, paths: Paths) -> None:
    source = tmp_path / "big.gguf"
    with source.open("wb") as file:
        file.truncate(64 << 20)              # several chunks
    child = subprocess.Popen([sys.executable, "-c", _KILLED_COPY, str(source),
                              str(paths.models_dir)], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        assert child.stdout is not None and int(child.stdout.readline()) > 0
        Profile.open(paths)                  # another Hearth starts while the copy runs
        assert (paths.models_dir / ".big.gguf.importing").exists()
    finally:
        child.kill()
        child.wait(timeout=30)
    leftover = paths.models_dir / ".big.gguf.importing"
    assert leftover.stat().st_size > 0       # what a killed copy leaves: hidden, big
    Profile.open(paths)
    assert not leftover.exists()
    assert [p.name for p in paths.models_dir.rglob("*")] == []


def test_a_copy_in_progress_is_never_taken_for_a_leftover(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    (folder / "sub").mkdir(parents=True)
    abandoned = folder / "sub" / ".old.gguf.importing"
    abandoned.write_bytes(b"half a model")
    busy = folder / ".new.gguf.importing"
    with busy.open("wb") as writing:          # as a running copy holds its file
        model_import.hold(writing)
        assert remove_abandoned_imports(folder) == [abandoned]
        assert busy.exists() and not abandoned.exists()
    assert remove_abandoned_imports(folder) == [busy]   # once that copy is gone


def test_every_part_of_a_running_copy_stays_held_until_it_is_renamed_in(
        library: ModelLibrary, tmp_path: Path) -> None:
    first = write_gguf(tmp_path / "Big.gguf", tensors=3, parts=3)
    cleaned: list[list[Path]] = []

    def another_hearth_starts(_done: int, _total: int) -> None:
        cleaned.append(remove_abandoned_imports(library.models_dir))

    library.import_file(first, "copy", progress=another_hearth_starts)
    assert cleaned and cleaned == [[]] * len(cleaned)   # the finished parts were held too
    assert _files(library.models_dir) == [f"Big-0000{n}-of-00003.gguf" for n in (1, 2, 3)]


def test_a_copy_of_the_same_name_never_touches_the_running_one(library: ModelLibrary,
                                                               tmp_path: Path) -> None:
    source = write_gguf(tmp_path / "m.gguf")
    library.models_dir.mkdir(parents=True)
    busy = library.models_dir / ".m.gguf.importing"
    with busy.open("wb") as writing:          # another Hearth is copying its m.gguf in
        model_import.hold(writing)
        writing.write(b"their first megabytes")
        writing.flush()
        with pytest.raises(LibraryError, match="'m.gguf' is being copied into the library"):
            library.import_file(source, "copy")
        assert busy.read_bytes() == b"their first megabytes"
    busy.write_bytes(b"left by a copy that was killed")
    assert library.import_file(source, "copy") == library.models_dir / "m.gguf"
    assert _files(library.models_dir) == ["m.gguf"]
