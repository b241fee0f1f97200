"""The model library: the profile's models folder, plus folders and files used where they are.

Every GGUF found is listed, also the ones that cannot be used (damaged, not GGUF, a split
part missing), with the reason; a scan never fails because of a file. Metadata comes through
the MetadataCache, so a second scan (or the next start) stats the files but opens none.
The library keeps the linked folders and files and the display names; the caller stores
them (in the settings) and passes them back in.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from app.core.errors import LibraryError
from app.core.gguf_info import GGUFInfo, read_gguf_parts
from app.core.library_files import (
    Candidate,
    FolderWalk,
    group,
    linked_file,
    model_stem,
    part_paths,
)
from app.core.metadata_cache import MetadataCache, Reader
from app.core.model_import import Progress, copy_model

Source = Literal["library", "builtin", "folder", "file"]


@dataclass(frozen=True)
class LibraryModel:
    """One model: its file(s), what they say, or why it cannot be used."""

    path: Path                # the file (the first part of a split model)
    parts: tuple[Path, ...]   # all parts found, in order (one for a plain file)
    size: int                 # bytes, all parts
    source: Source            # models folder | built in (shipped) | linked folder | linked file
    info: GGUFInfo | None     # None when it cannot be read
    error: str = ""           # why it cannot be used ("" when fine)
    hint: str = ""            # what the user can do about ``error``
    display_name: str = ""    # the user's name for it, if any

    @property
    def name(self) -> str:
        """The display name, else the file name without ``.gguf`` and the split suffix."""
        return self.display_name or model_stem(self.path.name)


ModelEntry = LibraryModel  # the name earlier callers import


def _absolute(path: str | Path) -> Path:
    return Path(os.path.abspath(Path(path).expanduser()))


class NameLookup(Protocol):
    """Where the library finds the user's name for a model (a dict will do)."""

    def get(self, path: str, default: str, /) -> str:
        """The name for the model at ``path``, else ``default``."""


class ModelLibrary:
    """The models of one profile.

    Args:
        models_dir: the profile's own models folder (imports go here; deletes happen here).
        cache_path: the metadata cache file; None keeps the cache in memory only.
        linked_folders / linked_files: GGUFs used where they are (never copied or deleted).
        display_names: the user's names, by ``str(model.path)``: anything with
            ``get(path, default)`` (a dict, or a live view of the settings); read at every scan.
        builtin_dir: the models shipped with the app: listed, never written or deleted.
        reader: reads a model's metadata (tests count its calls).
    """

    def __init__(self, models_dir: Path, cache_path: Path | None = None,
                 linked_folders: Iterable[str | Path] = (),
                 linked_files: Iterable[str | Path] = (),
                 display_names: NameLookup | None = None, *,
                 builtin_dir: Path | None = None,
                 reader: Reader = read_gguf_parts) -> None:
        self.models_dir = Path(models_dir)
        self.builtin_dir = _absolute(builtin_dir) if builtin_dir is not None else None
        self.cache = MetadataCache(cache_path, reader)
        self.display_names: NameLookup = display_names if display_names is not None else {}
        self.problems: list[str] = []
        self._folders: list[Path] = []
        self._files: list[Path] = []
        self._session_files: list[Path] = []
        self._lock = threading.Lock()
        for folder in linked_folders:
            self.link_folder(folder)
        for file in linked_files:
            self.link_file(file)

    @property
    def linked_folders(self) -> tuple[Path, ...]:
        """Folders whose GGUFs are listed where they are."""
        return tuple(self._folders)

    @property
    def linked_files(self) -> tuple[Path, ...]:
        """Single GGUFs listed where they are (the first part, for a split model)."""
        return tuple(self._files)

    @staticmethod
    def read_folder(folder: str | Path) -> MetadataCache:
        """Read the metadata of every GGUF in ``folder``, apart from any library.

        For a folder about to be linked: the first look at it reads every model's header,
        which is slow on a large folder. Done on another thread, with the result handed to
        ``link_folder(folder, known=…)``, the library is never locked meanwhile.
        """
        reader = ModelLibrary(_absolute(folder))
        reader.scan()
        return reader.cache

    def link_folder(self, folder: str | Path, known: MetadataCache | None = None) -> Path:
        """List the GGUFs in ``folder`` (and its sub-folders) from the next scan on.

        ``known``: its metadata, read beforehand (``read_folder``).
        """
        if known is not None:
            with self._lock:
                self.cache.absorb(known)
        folder = _absolute(folder)
        if folder not in self._folders:
            self._folders.append(folder)
        return folder

    def unlink_folder(self, folder: str | Path) -> None:
        """Stop listing ``folder``; its files are left alone."""
        folder = _absolute(folder)
        self._folders = [f for f in self._folders if f != folder]

    def link_file(self, path: str | Path) -> Path:
        """List one GGUF where it is (kept in ``linked_files``)."""
        path = _absolute(path)
        if path not in self._files:
            self._files.append(path)
        return path

    def unlink_file(self, path: str | Path) -> None:
        """Stop listing a linked file; the file is left alone."""
        path = _absolute(path)
        self._files = [f for f in self._files if f != path]
        self._session_files = [f for f in self._session_files if f != path]

    def use_file(self, path: str | Path) -> None:
        """List a model file for this session only (``--model``), wherever it is."""
        path = _absolute(path)
        if path not in self._session_files:
            self._session_files.append(path)

    def scan(self) -> list[LibraryModel]:
        """Every model, sorted by name; ``problems`` then says what could not be looked at."""
        with self._lock:
            walk = FolderWalk()
            found: list[tuple[Source, Candidate]] = [
                ("library", c) for c in group(walk.files(self.models_dir))]
            if self.builtin_dir is not None:
                found += [("builtin", c) for c in group(walk.files(self.builtin_dir,
                                                                   "Built-in models"))]
            for folder in self._folders:
                found += [("folder", c) for c in group(walk.files(folder, "Linked folder"))]
            found += [("file", linked_file(f)) for f in self._files + self._session_files]
            models, seen = [], set()
            for source, candidate in found:
                real = os.path.realpath(candidate.parts[0])
                if real not in seen:  # reached twice (a link, a folder inside another)
                    seen.add(real)
                    models.append(self._model(source, candidate))
            self.cache.save()
            self.problems = walk.problems
        return sorted(models, key=lambda m: (m.name.casefold(), str(m.path)))

    def _model(self, source: Source, candidate: Candidate) -> LibraryModel:
        path = candidate.parts[0]
        info, error, hint = None, candidate.error, candidate.hint
        if not error:
            metadata = self.cache.get(candidate.parts, candidate.stats)
            info, error, hint = metadata.info, metadata.error, metadata.hint
        return LibraryModel(path=path, parts=candidate.parts, size=candidate.size,
                            source=source, info=info, error=error, hint=hint,
                            display_name=self.display_names.get(str(path), ""))

    def import_file(self, source: str | Path, mode: Literal["copy", "link"] = "copy",
                    progress: Progress | None = None,
                    cancel: threading.Event | None = None) -> Path:
        """Add the model in ``source`` (any part of a split model) to the library.

        The model is checked first (ModelFileError if it is not a usable GGUF). ``copy``
        copies every part into the models folder (see ``model_import``); ``link`` lists it
        where it is. Returns the model's path in the library.
        """
        source = _absolute(source)
        parts = part_paths(source)
        read_gguf_parts(parts)
        if mode == "link":
            if _inside(parts[0], self.models_dir) or self._builtin(parts[0]):
                return parts[0]
            return self.link_file(parts[0])
        if mode != "copy":
            raise ValueError(f"unknown import mode {mode!r}")
        if _inside(parts[0], self.models_dir) or self._builtin(parts[0]):
            raise LibraryError(f"'{parts[0].name}' is already in your library.")
        return copy_model(parts, self.models_dir, progress, cancel)

    def delete(self, model: LibraryModel, loaded: Collection[str | Path] = ()) -> None:
        """Delete a model of the models folder (all its parts), or unlink a linked file.

        Refused while the model is loaded (``loaded``: paths of loaded models), and for a
        file in a linked folder: Hearth never deletes files outside the profile.
        """
        busy = {os.path.realpath(p) for p in loaded}
        if any(os.path.realpath(p) in busy for p in model.parts):
            raise LibraryError(f"'{model.name}' is loaded, so it cannot be deleted now.",
                               "Unload it (or switch to another model) and try again.")
        if model.source == "builtin":
            raise LibraryError(f"'{model.name}' comes with Hearth, so it cannot be deleted.",
                               "It takes no space in your profile; it goes with Hearth "
                               "when Hearth is uninstalled.")
        if model.source == "file":
            self.unlink_file(model.path)
            return
        if model.source != "library" or not all(_inside(p, self.models_dir)
                                                for p in model.parts):
            raise LibraryError(f"'{model.name}' is in the linked folder "
                               f"{model.path.parent}; Hearth does not delete files it did "
                               "not put there.",
                               "Delete it in that folder yourself, or unlink the folder.")
        for part in model.parts:
            try:
                part.unlink(missing_ok=True)
            except OSError as exc:
                raise LibraryError(f"'{part.name}' could not be deleted: "
                                   f"{exc.strerror or exc}.",
                                   "Check that the file is not in use or read-only.") from exc
        self._drop_empty_folders(model.path.parent)

    def _builtin(self, path: Path) -> bool:
        return self.builtin_dir is not None and _inside(path, self.builtin_dir)

    def _drop_empty_folders(self, folder: Path) -> None:
        """Remove the folders a download made (``owner/name``) once they are empty."""
        root = _absolute(self.models_dir)
        folder = _absolute(folder)
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()  # only ever succeeds on an empty folder
            except OSError:
                return
            folder = folder.parent


def _inside(path: Path, folder: Path) -> bool:
    return _absolute(path).is_relative_to(_absolute(folder))
