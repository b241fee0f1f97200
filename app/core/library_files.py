"""Finding model files: GGUFs in folders (recursively, safely), split models grouped by name.

A split model is named ``<stem>-00001-of-00003.gguf`` … ``-00003-of-00003.gguf`` in one
folder; its parts count as one model, listed by its first part. Folders are walked to
``MAX_DEPTH`` levels (enough for a Hugging Face cache: ``hub/models--org--name/snapshots/
<revision>/file.gguf``); hidden entries are skipped; a folder reached twice (a symlink
loop, or a folder linked twice) is walked once.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

MAX_DEPTH = 4
_SPLIT_PART = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<total>\d{5})\.gguf$",
                         re.IGNORECASE)
_MAX_PARTS = 1000  # a name claiming more parts than this is treated as a plain file
_UNREADABLE_HINT = "Check that the file exists and is readable, and that its drive is connected."


def split_part(name: str) -> tuple[str, int, int] | None:
    """(stem, part number, part count) of a split model's file name, else None."""
    match = _SPLIT_PART.match(name)
    if match is None:
        return None
    number, total = int(match["no"]), int(match["total"])
    if not 1 <= number <= total <= _MAX_PARTS:
        return None
    return match["stem"], number, total


def model_stem(name: str) -> str:
    """A model's file name without ``.gguf`` and without a split suffix."""
    part = split_part(name)
    if part is not None:
        return part[0]
    return name[:-5] if name.lower().endswith(".gguf") else name


def part_paths(path: Path) -> list[Path]:
    """Every part's path of the model ``path`` belongs to (just ``path`` if not split)."""
    part = split_part(path.name)
    if part is None:
        return [path]
    stem, _number, total = part
    suffix = path.name[-5:]  # keeps the extension's case
    return [path.with_name(f"{stem}-{n:05d}-of-{total:05d}{suffix}") for n in range(1, total + 1)]


@dataclass
class Found:
    """A .gguf file seen in a folder: its stat, or why it could not be stat'ed."""

    path: Path
    stat: os.stat_result | None
    error: str = ""


@dataclass
class Candidate:
    """One model's files as found on disk, before its metadata is read."""

    parts: tuple[Path, ...]
    stats: tuple[os.stat_result, ...]
    error: str = ""
    hint: str = ""

    @property
    def size(self) -> int:
        """Bytes of the parts present."""
        return sum(s.st_size for s in self.stats)


@dataclass
class FolderWalk:
    """Walks folders for .gguf files; remembers folders already walked and the problems met."""

    problems: list[str] = field(default_factory=list)
    _seen: set[tuple[int, int]] = field(default_factory=set)

    def files(self, root: Path, what: str = "") -> list[Found]:
        """The .gguf files under ``root``. ``what`` (e.g. "Linked folder") names a root the
        user chose: its absence is then a problem; an unnamed root may simply not exist."""
        try:
            info = root.stat()
        except OSError as exc:
            if what:
                self.problems.append(f"{what} {root} is missing." if isinstance(
                    exc, FileNotFoundError) else f"{what} {root} cannot be read: {_reason(exc)}.")
            return []
        if not stat.S_ISDIR(info.st_mode):
            if what:
                self.problems.append(f"{what} {root} is not a folder.")
            return []
        found: list[Found] = []
        self._walk(root, info, 0, found)
        return found

    def _walk(self, folder: Path, info: os.stat_result, depth: int, found: list[Found]) -> None:
        identity = (info.st_dev, info.st_ino)
        if identity in self._seen:
            return
        self._seen.add(identity)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self.problems.append(f"The folder {folder} cannot be read ({_reason(exc)}); "
                                 "models in it are not listed.")
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                entry_stat = entry.stat()  # follows symbolic links
            except OSError as exc:
                if entry.name.lower().endswith(".gguf"):
                    found.append(Found(path, None, _unreadable(entry.name, exc)))
                continue
            if stat.S_ISDIR(entry_stat.st_mode):
                if depth < MAX_DEPTH:
                    self._walk(path, entry_stat, depth + 1, found)
            elif stat.S_ISREG(entry_stat.st_mode) and entry.name.lower().endswith(".gguf"):
                found.append(Found(path, entry_stat))


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _unreadable(name: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"'{name}' is a link to a file that no longer exists."
    return f"'{name}' cannot be read: {_reason(exc)}."


def group(found: list[Found]) -> list[Candidate]:
    """One Candidate per model: plain files alone, split parts together by stem and count."""
    candidates: list[Candidate] = []
    splits: dict[tuple[Path, str, int], dict[int, Found]] = {}
    for item in found:
        part = split_part(item.path.name)
        if part is None:
            candidates.append(_single(item))
        else:
            stem, number, total = part
            splits.setdefault((item.path.parent, stem, total), {}).setdefault(number, item)
    for (_folder, _stem, total), numbered in splits.items():
        candidates.append(_split(total, numbered))
    return candidates


def _single(item: Found) -> Candidate:
    if item.stat is None:
        return Candidate((item.path,), (), item.error, _UNREADABLE_HINT)
    return Candidate((item.path,), (item.stat,))


def _split(total: int, numbered: dict[int, Found]) -> Candidate:
    present = [numbered[n] for n in sorted(numbered)]
    parts = tuple(item.path for item in present)
    stats = tuple(item.stat for item in present if item.stat is not None)
    unreadable = [item.error for item in present if item.stat is None]
    missing = [n for n in range(1, total + 1) if n not in numbered]
    if missing:
        expected = part_paths(parts[0])
        names = ", ".join(expected[n - 1].name for n in missing)
        which = "Part" if len(missing) == 1 else "Parts"
        numbers = ", ".join(str(n) for n in missing)
        return Candidate(parts, stats, f"{which} {numbers} of {total} of this model "
                         f"{'is' if len(missing) == 1 else 'are'} missing ({names}).",
                         "Put the missing part in the same folder, or delete the other parts.")
    if unreadable:
        return Candidate(parts, stats, unreadable[0], _UNREADABLE_HINT)
    return Candidate(parts, stats)


def linked_file(path: Path) -> Candidate:
    """The model a single linked file belongs to (with its other parts, if split)."""
    numbered: dict[int, Found] = {}  # part number (1 when not split) -> what was seen
    for number, part in enumerate(part_paths(path), start=1):
        try:
            numbered[number] = Found(part, part.stat())
        except FileNotFoundError:
            continue
        except OSError as exc:
            numbered[number] = Found(part, None, _unreadable(part.name, exc))
    if not numbered:
        return Candidate((path,), (), f"The linked file {path} is missing.",
                         "Reconnect the drive it is on, or remove it from the library.")
    split = split_part(path.name)
    if split is None:
        return _single(numbered[1])
    return _split(split[2], numbered)
