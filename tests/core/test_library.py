"""The model library: what a scan lists (and why a file cannot be used), links, names."""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import pytest

from app.core.errors import ModelFileError
from app.core.library import LibraryModel, ModelLibrary
from app.core.library_files import MAX_DEPTH, model_stem, part_paths, split_part
from tests.gguf_files import write_gguf


def _by_name(models: list[LibraryModel]) -> dict[str, LibraryModel]:
    return {m.name: m for m in models}


def test_a_folder_of_good_and_broken_files(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_gguf(models / "Beta.gguf", name="Beta", context=2048)
    write_gguf(models / "alpha.GGUF", tensors=2)
    (models / "damaged.gguf").write_bytes(struct.pack("<4sIQQ", b"GGUF", 3, 1, 5) + bytes(40))
    (models / "photo.gguf").write_bytes(b"\x89PNG" + bytes(100))
    (models / "notes.txt").write_text("not a model")
    (models / ".hidden.gguf").write_bytes(b"GGUF")
    scanned = ModelLibrary(models).scan()
    assert [m.name for m in scanned] == ["alpha", "Beta", "damaged", "photo"]
    found = _by_name(scanned)
    beta = found["Beta"]
    assert (beta.source, beta.error, beta.size) == ("library", "", beta.path.stat().st_size)
    assert beta.info is not None and (beta.info.name, beta.info.context_length) == ("Beta", 2048)
    assert found["alpha"].info is not None and found["alpha"].info.tensor_count == 2
    assert found["damaged"].info is None
    assert "'damaged.gguf' cannot be used: its metadata is damaged" in found["damaged"].error
    assert found["damaged"].hint
    assert found["photo"].error == "'photo.gguf' is not a GGUF model file."


def test_a_split_model_is_one_model(tmp_path: Path) -> None:
    first = write_gguf(tmp_path / "Big.gguf", tensors=6, parts=3)
    write_gguf(tmp_path / "Lean.gguf", tensors=4, parts=3, small_first_part=True)
    found = _by_name(ModelLibrary(tmp_path).scan())
    assert sorted(found) == ["Big", "Lean"]
    big = found["Big"]
    assert big.path == first and [p.name for p in big.parts] == [
        "Big-00001-of-00003.gguf", "Big-00002-of-00003.gguf", "Big-00003-of-00003.gguf"]
    assert big.size == sum(p.stat().st_size for p in big.parts)
    assert big.info is not None and big.error == ""
    assert (big.info.tensor_count, big.info.parameter_count, big.info.file_size) == \
        (6, 6 * 32, big.size)
    lean = found["Lean"].info
    assert lean is not None and lean.tensor_count == 4  # none of them in the first part


def test_a_split_model_with_a_missing_part_is_listed_with_the_reason(tmp_path: Path) -> None:
    first = write_gguf(tmp_path / "Big.gguf", tensors=6, parts=3)
    first.with_name("Big-00002-of-00003.gguf").unlink()
    write_gguf(tmp_path / "Orphan.gguf", tensors=4, parts=2)
    (tmp_path / "Orphan-00001-of-00002.gguf").unlink()
    found = _by_name(ModelLibrary(tmp_path).scan())
    big = found["Big"]
    assert big.info is None and len(big.parts) == 2
    assert big.error == "Part 2 of 3 of this model is missing (Big-00002-of-00003.gguf)."
    assert "missing part" in big.hint
    orphan = found["Orphan"]
    assert orphan.path.name == "Orphan-00002-of-00002.gguf"
    assert orphan.error.startswith("Part 1 of 2 of this model is missing")


def test_split_part_names() -> None:
    assert split_part("m-00002-of-00010.gguf") == ("m", 2, 10)
    assert split_part("m-00011-of-00010.gguf") is None
    assert split_part("m-00000-of-00002.gguf") is None
    assert split_part("m.gguf") is None
    assert model_stem("Qwen2.5-7B-Q4_K_M-00001-of-00002.gguf") == "Qwen2.5-7B-Q4_K_M"
    assert model_stem("Model.GGUF") == "Model"
    assert [p.name for p in part_paths(Path("/x/m-00002-of-00002.gguf"))] == [
        "m-00001-of-00002.gguf", "m-00002-of-00002.gguf"]


def test_linked_folders_are_walked_safely(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    hub = tmp_path / "hf" / "hub"
    blob = write_gguf(hub / "models--org--m" / "blobs" / "0123abcd", name="Hub model")
    snapshot = hub / "models--org--m" / "snapshots" / ("f" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "m-Q4_K_M.gguf").symlink_to(Path("../../blobs/0123abcd"))
    (snapshot / "gone-Q8_0.gguf").symlink_to(Path("../../blobs/deleted"))
    (snapshot / "loop").symlink_to(hub, target_is_directory=True)  # back to the top
    write_gguf(hub / ".locks" / "hidden.gguf")
    deep = hub.joinpath(*[f"d{i}" for i in range(MAX_DEPTH)])
    write_gguf(deep / "deepest-allowed.gguf")
    write_gguf(deep / "too-deep" / "ignored.gguf")
    library = ModelLibrary(models, linked_folders=[hub, tmp_path / "unplugged"])
    found = _by_name(library.scan())
    assert sorted(found) == ["deepest-allowed", "gone-Q8_0", "m-Q4_K_M"]
    hub_model = found["m-Q4_K_M"]
    assert hub_model.source == "folder" and hub_model.path == snapshot / "m-Q4_K_M.gguf"
    assert hub_model.info is not None and hub_model.info.name == "Hub model"
    assert hub_model.size == blob.stat().st_size
    assert found["gone-Q8_0"].error == "'gone-Q8_0.gguf' is a link to a file that no longer exists."
    assert library.problems == [f"Linked folder {tmp_path / 'unplugged'} is missing."]
    assert library.linked_folders == (hub, tmp_path / "unplugged")


def test_a_folder_that_cannot_be_read_is_a_problem_not_a_crash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_gguf(tmp_path / "shared" / "ok.gguf")
    write_gguf(tmp_path / "shared" / "private" / "secret.gguf")
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str]) -> object:
        if Path(path).name == "private":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    library = ModelLibrary(tmp_path / "models", linked_folders=[tmp_path / "shared"])
    assert [m.name for m in library.scan()] == ["ok"]
    private = tmp_path / "shared" / "private"
    assert library.problems == [
        f"The folder {private} cannot be read (Permission denied); models in it are not listed."]


def test_a_file_is_listed_once_however_it_is_reached(tmp_path: Path) -> None:
    models = tmp_path / "models"
    path = write_gguf(models / "one.gguf")
    library = ModelLibrary(models, linked_folders=[models, tmp_path],
                           linked_files=[path, tmp_path / "models" / ".." / "models" / "one.gguf"])
    scanned = library.scan()
    assert [(m.name, m.source) for m in scanned] == [("one", "library")]


def test_linked_and_session_files(tmp_path: Path) -> None:
    elsewhere = write_gguf(tmp_path / "elsewhere" / "Solo.gguf")
    split = write_gguf(tmp_path / "elsewhere" / "Split.gguf", tensors=2, parts=2)
    session = write_gguf(tmp_path / "cli" / "Cli.gguf")
    library = ModelLibrary(tmp_path / "models",
                           linked_files=[elsewhere, split.with_name("Split-00002-of-00002.gguf"),
                                         tmp_path / "usb" / "Gone.gguf"])
    library.use_file(session)
    found = _by_name(library.scan())
    assert sorted(found) == ["Cli", "Gone", "Solo", "Split"]
    assert {m.source for m in found.values()} == {"file"}
    assert found["Split"].path == split and len(found["Split"].parts) == 2
    assert found["Split"].info is not None
    assert found["Gone"].error == f"The linked file {tmp_path / 'usb' / 'Gone.gguf'} is missing."
    assert session not in library.linked_files and elsewhere in library.linked_files


def test_display_names(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "qwen2.5-0.5b-instruct-q4_k_m.gguf")
    write_gguf(tmp_path / "Other.gguf")
    names = {str(path): "Qwen (small)"}
    library = ModelLibrary(tmp_path, display_names=names)
    assert [m.name for m in library.scan()] == ["Other", "Qwen (small)"]
    names[str(path)] = "A Qwen"  # a live mapping is read at every scan
    scanned = library.scan()
    assert [m.name for m in scanned] == ["A Qwen", "Other"]
    assert scanned[0].display_name == "A Qwen"


@pytest.mark.allow_warnings
def test_a_bug_while_reading_one_file_does_not_hide_the_others(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_gguf(tmp_path / "good.gguf")
    write_gguf(tmp_path / "trips.gguf")

    def reader(parts: list[Path]) -> object:
        if parts[0].name == "trips.gguf":
            raise IndexError("a bug")
        from app.core.gguf_info import read_gguf_parts
        return read_gguf_parts(parts)

    found = _by_name(ModelLibrary(tmp_path, reader=reader).scan())  # type: ignore[arg-type]
    assert found["good"].info is not None
    assert found["trips"].error == "'trips.gguf' could not be read because of an error in Hearth."
    assert [r.levelno for r in caplog.records if r.name == "app.core.metadata_cache"] == \
        [logging.ERROR]


def test_a_missing_models_folder_is_an_empty_library(tmp_path: Path) -> None:
    library = ModelLibrary(tmp_path / "nowhere")
    assert library.scan() == [] and library.problems == []


def test_the_old_entry_name_still_imports() -> None:
    from app.core.library import ModelEntry
    assert ModelEntry is LibraryModel


def test_reading_a_model_file_error_is_not_raised_by_scan(tmp_path: Path) -> None:
    (tmp_path / "empty.gguf").write_bytes(b"")
    (scanned,) = ModelLibrary(tmp_path).scan()
    assert scanned.error == "The model file 'empty.gguf' is empty." and scanned.size == 0
    with pytest.raises(ModelFileError):  # the same file, read directly, does raise
        from app.core.gguf_info import read_gguf_info
        read_gguf_info(scanned.path)
