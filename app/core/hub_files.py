"""A hub repo's GGUF files: safe local names, quantisation, split parts, the recommended one.

Everything here works on the file names and sizes the hub lists, which are untrusted:
a name becomes a local file name only through ``safe_file_name``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from app.core.errors import HubError

_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
# Quantisation names as llama.cpp and the big GGUF publishers write them, in a file name's
# basename: K quants (Q4_K_M, Q6_K, UD-Q4_K_XL), I quants (IQ3_XXS, IQ4_NL), legacy and
# repacked (Q8_0, Q4_0_4_4), ternary (TQ1_0), float (F16, BF16, F32) and MXFP4.
_QUANT = re.compile(
    r"(?<![a-z0-9])("
    r"i?q[1-8]_k(?:_(?:xxs|xs|s|m|l|xl))?"
    r"|iq[1-4]_(?:xxs|xs|nl|s|m|l)"
    r"|q[1-8]_[01](?:_\d_\d)?"
    r"|tq[12]_0|mxfp4|bf16|f16|f32"
    r")(?![a-z0-9])", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")
_FORBIDDEN = set('<>:"|?*\\') | {chr(c) for c in range(32)}
_MAX_NAME_BYTES = 255


_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$", re.ASCII)


def check_repo_id(repo_id: str) -> str:
    """Return ``repo_id`` if it looks like ``owner/name``; else raise ``HubError``."""
    if not _REPO_ID.match(repo_id) or any(not p.strip(".") for p in repo_id.split("/")):
        raise HubError(f"{repo_id!r} is not a Hugging Face repository name.",
                       "Repository names look like owner/name, e.g. "
                       "Qwen/Qwen2.5-0.5B-Instruct-GGUF.")
    return repo_id


@dataclass(frozen=True)
class HubPart:
    """One file on the hub: its repo path, size and the sha256 its LFS pointer gives."""

    path: str
    size: int
    sha256: str  # "" when the hub gives none (not an LFS file): it cannot be verified


@dataclass(frozen=True)
class HubFile:
    """One downloadable GGUF model (a split model is several parts)."""

    repo_id: str
    revision: str  # the 40-hex commit sha the listing came from: downloads are pinned to it
    path: str      # repo path of the first part
    parts: tuple[HubPart, ...]
    size: int      # bytes, all parts
    quantization: str  # "Q4_K_M", "Q8_0", "F16", … ("" when the name does not say)

    @property
    def name(self) -> str:
        """The file name in the library (of the first part)."""
        return safe_file_name(self.path)


def _refuse(rfilename: str, reason: str) -> HubError:
    return HubError(f"The hub file name {rfilename!r} was refused: {reason}.",
                    "The repository lists a file that cannot be saved safely; "
                    "choose another file or repository.")


def safe_file_name(rfilename: str) -> str:
    """The local file name for a hub file: its basename, after checking the whole name.

    Refuses (``HubError``) empty names, absolute paths, drive letters, ``..`` components,
    backslashes, NUL and other control or reserved characters, hidden names, names over
    255 bytes and names not ending in ``.gguf``. A sub-folder in the repo is dropped.
    """
    if not rfilename:
        raise _refuse(rfilename, "it is empty")
    if rfilename.startswith("/") or _DRIVE.match(rfilename):
        raise _refuse(rfilename, "it is an absolute path")
    bad = sorted({c for c in rfilename if c in _FORBIDDEN})
    if bad:
        raise _refuse(rfilename, "it contains " + ", ".join(repr(c) for c in bad))
    components = rfilename.split("/")
    if any(part in ("", ".", "..") for part in components):
        raise _refuse(rfilename, "it has an empty, '.' or '..' path component")
    name = components[-1]
    if name.startswith("."):
        raise _refuse(rfilename, "it is a hidden file name")
    if not name.lower().endswith(".gguf") or len(name) == len(".gguf"):
        raise _refuse(rfilename, "it is not a .gguf file")
    if len(name.encode()) > _MAX_NAME_BYTES:
        raise _refuse(rfilename, "it is too long")
    return name


def quantization_of(file_name: str) -> str:
    """The quantisation a GGUF file name states ("Q4_K_M", "IQ3_XXS", "BF16"; "" if none).

    The last match in the basename wins (publishers put it at the end).
    """
    base = file_name.rsplit("/", 1)[-1]
    split = _SPLIT.match(base)
    stem = split["stem"] if split else re.sub(r"\.gguf$", "", base, flags=re.IGNORECASE)
    found = _QUANT.findall(stem)
    return found[-1].upper() if found else ""


def is_projector(file_name: str) -> bool:
    """Whether a GGUF is a vision projector (``mmproj-…``), not a model to chat with."""
    return file_name.rsplit("/", 1)[-1].lower().startswith("mmproj")


def group_files(repo_id: str, revision: str,
                entries: Iterable[HubPart]) -> tuple[list[HubFile], list[str]]:
    """Group a repo's GGUF files into models, smallest first.

    Split parts (``-00001-of-00003.gguf``) become one ``HubFile``; a split model with a
    part missing, a projector and a file whose name is unsafe are left out. Returns the
    models and a sentence for each file left out.
    """
    singles: list[HubFile] = []
    splits: dict[tuple[str, int], dict[int, HubPart]] = {}
    left_out: list[str] = []
    for part in entries:
        if not part.path.lower().endswith(".gguf") or is_projector(part.path):
            continue
        try:
            safe_file_name(part.path)
        except HubError as exc:
            left_out.append(exc.message)
            continue
        split = _SPLIT.match(part.path)
        if split is None:
            singles.append(HubFile(repo_id, revision, part.path, (part,), part.size,
                                   quantization_of(part.path)))
        else:
            key = (split["stem"], int(split["count"]))
            splits.setdefault(key, {})[int(split["index"])] = part
    for (stem, count), parts in splits.items():
        if sorted(parts) != list(range(1, count + 1)):
            left_out.append(f"{stem}: only {len(parts)} of its {count} parts are in the repo.")
            continue
        ordered = tuple(parts[i] for i in range(1, count + 1))
        singles.append(HubFile(repo_id, revision, ordered[0].path, ordered,
                               sum(p.size for p in ordered), quantization_of(ordered[0].path)))
    singles.sort(key=lambda f: (f.size, f.path))
    return singles, left_out


def recommend(files: Sequence[HubFile],
              label: Callable[[HubFile], str | None]) -> HubFile | None:
    """The file to suggest: the largest whose fit ``label`` is "fits" (see ``fit.assess``).

    Larger files of one model are the less compressed quantisations, so the largest that
    fits is the best quality this computer runs comfortably; this one rule is also what
    prefers Q4_K_M or better over tiny IQ quants whenever those fit. None if nothing fits.
    """
    fitting = [f for f in files if label(f) == "fits"]
    return max(fitting, key=lambda f: (f.size, f.path), default=None)
