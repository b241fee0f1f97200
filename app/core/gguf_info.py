"""What a GGUF model file says about itself, read and checked before llama.cpp sees it.

The file is parsed here (with ``gguf_layout``) rather than with ``gguf.GGUFReader``: that
reader builds a numpy view for every element of the tokenizer arrays (3.4 s for the 98 MB
starter model) and fails with a reshape error on a truncated file before the damage can be
described. Only the format's tables (value types, quantisation block sizes, file types)
come from ``gguf``. A model split into parts (``-00001-of-00003.gguf``) is read part by
part; the start of a remote file can be read too, for an estimate before downloading it.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf.constants import GGMLQuantizationType, LlamaFileType

from app.core.errors import ModelFileError
from app.core.gguf_check import GGUF_MAGIC, SUPPORTED_VERSIONS
from app.core.gguf_layout import (
    HEADER,
    Buffer,
    Cursor,
    Damaged,
    NeedMore,
    Skipped,
    Tensor,
    alignment,
    read_metadata,
    read_tensors,
)
from app.core.units import human_size

_REDOWNLOAD = "Download it again, or choose another model."


@dataclass(frozen=True)
class GGUFInfo:
    """The facts about a model file that the app shows and sizes memory by.

    Lengths and counts are 0 when the file does not state them.
    """

    path: Path
    file_size: int
    version: int
    architecture: str
    name: str
    size_label: str
    file_type: int | None
    quantization: str  # readable label such as "Q4_K_M"; "" when unknown
    context_length: int  # the context the model was trained for
    block_count: int
    embedding_length: int
    vocab_size: int
    head_count: int
    head_count_kv: int
    key_length: int  # per attention head
    value_length: int
    chat_template: str | None
    bos_token_id: int | None
    eos_token_id: int | None
    license: str
    parameter_count: int
    tensor_count: int


class IncompleteHeader(Exception):
    """The first bytes of a remote file end before its header does: fetch more and retry."""

    def __init__(self, needed_bytes: int) -> None:
        super().__init__(f"the header needs the first {needed_bytes:,} bytes")
        self.needed_bytes = needed_bytes


@dataclass(frozen=True)
class _Part:
    """What one file of a model holds: its version, metadata and tensor table."""

    version: int
    metadata: dict[str, Any]
    tensors: list[Tensor]
    size: int


def read_gguf_info(path: str | Path) -> GGUFInfo:
    """Check that ``path`` is a complete, readable GGUF model and return what it says.

    Raises ModelFileError with a message naming the problem (missing, unreadable, not GGUF,
    unsupported version, damaged metadata, no architecture, incomplete download). The file
    is closed and unmapped before this returns.
    """
    path = Path(path)
    return _combine(path, [_read_part(path, first=True)])


def read_gguf_parts(parts: Sequence[str | Path]) -> GGUFInfo:
    """Check every part of a model (one file, or a split model's parts in order) like
    read_gguf_info does, and return what they say together.

    The metadata comes from the first part; sizes, tensor and parameter counts are totals.
    """
    paths = [Path(p) for p in parts]
    if not paths:
        raise ValueError("a model has at least one file")
    read = [_read_part(p, first=index == 0) for index, p in enumerate(paths)]
    declared = read[0].metadata.get("split.count")
    if len(paths) > 1 and isinstance(declared, int) and declared != len(paths):
        raise ModelFileError(f"The model file '{paths[0].name}' says the model has {declared} "
                             f"parts, but {len(paths)} belong to it here.", _REDOWNLOAD)
    return _combine(paths[0], read)


def read_gguf_header(data: Buffer, file_size: int, name: str, *,
                     model_size: int = 0) -> GGUFInfo:
    """What a GGUF file says about itself, from its first bytes (``data``) and its size.

    For the memory estimate of a file not downloaded yet. Raises IncompleteHeader when
    ``data`` ends before the metadata and tensor table do (its ``needed_bytes``, at least
    twice ``len(data)``, is how many first bytes to fetch next), and ModelFileError when
    what is there is not a valid GGUF. ``model_size`` is the total of a split model's
    parts (default ``file_size``); the first part of a split model may hold no weights.
    """
    if len(data) < min(HEADER.size, file_size):
        raise IncompleteHeader(min(file_size, HEADER.size))
    _check_header(name, bytes(data[:HEADER.size]), file_size)
    try:
        part = _parse_part(name, data, file_size, first=True, available=len(data))
    except NeedMore as more:
        raise IncompleteHeader(min(file_size, max(more.needed, 2 * len(data)))) from None
    split = part.metadata.get("split.count")
    return _combine(Path(name), [part], size=model_size or file_size,
                    need_tensors=not (isinstance(split, int) and split > 1))


def _read_part(path: Path, *, first: bool) -> _Part:
    name = path.name or str(path)
    if not path.exists():
        raise ModelFileError(f"The model file '{name}' does not exist.",
                             "Choose another model, or download this one again.")
    if not path.is_file():
        raise ModelFileError(f"'{name}' is not a file.", "Choose a .gguf model file.")
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            _check_header(name, handle.read(HEADER.size), size)
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _parse_part(name, data, size, first=first)
    except OSError as exc:
        raise ModelFileError(f"The model file '{name}' cannot be read: "
                             f"{exc.strerror or exc}.",
                             "Check that the file is not locked or on a disconnected drive."
                             ) from exc


def _check_header(name: str, header: bytes, size: int) -> None:
    if size == 0:
        raise ModelFileError(f"The model file '{name}' is empty.", _REDOWNLOAD)
    if not GGUF_MAGIC.startswith(header[:4]):
        raise ModelFileError(f"'{name}' is not a GGUF model file.",
                             "Hearth runs models in the GGUF format (files ending in .gguf).")
    if len(header) < HEADER.size:
        raise ModelFileError(f"The model file '{name}' is too short to be a model "
                             f"({size} bytes).", _REDOWNLOAD)
    version = HEADER.unpack(header)[1]
    if version in SUPPORTED_VERSIONS:
        return
    if version & 0xFFFF == 0:
        detail = "was converted for big-endian computers, which this app cannot read"
    else:
        detail = f"uses GGUF version {version}, which this app cannot read"
    raise ModelFileError(f"'{name}' {detail}.",
                         "Use a newer conversion of the model, or update Hearth.")


def _parse_part(name: str, data: Buffer, size: int, *, first: bool,
                available: int | None = None) -> _Part:
    """Metadata and tensor table of one file; only a first part must name an architecture."""
    _magic, version, tensor_count, kv_count = HEADER.unpack_from(data, 0)
    cursor = Cursor(data, size, HEADER.size, available)
    try:
        metadata = read_metadata(cursor, kv_count)
        architecture = metadata.get("general.architecture")
        if architecture is not None and not isinstance(architecture, str):
            raise Damaged("general.architecture is not text")
        if first and not architecture:
            raise ModelFileError(f"The model file '{name}' does not say which model "
                                 "architecture it uses (general.architecture is missing).",
                                 "It may not be a language model; choose another model.")
        tensors = read_tensors(cursor, tensor_count)
        align = alignment(metadata)
    except (Damaged, struct.error, ValueError, OverflowError) as exc:
        raise ModelFileError(f"The model file '{name}' cannot be used: its metadata is "
                             f"damaged ({exc}).", _REDOWNLOAD) from exc
    data_start = -(-cursor.pos // align) * align
    needed = max((data_start + t.offset + t.n_bytes for t in tensors), default=0)
    if needed > size:
        raise ModelFileError(f"The model file '{name}' is incomplete: it ends at "
                             f"{human_size(size)} but its tensors need {human_size(needed)}.",
                             "Download it again.")
    return _Part(version, metadata, tensors, size)


def _combine(path: Path, parts: list[_Part], *, size: int = 0,
             need_tensors: bool = True) -> GGUFInfo:
    tensors = [tensor for part in parts for tensor in part.tensors]
    if need_tensors and not tensors:
        raise ModelFileError(f"The model file '{path.name}' contains no model weights.",
                             "It may be a vocabulary-only file; choose another model.")
    first = parts[0]
    return _info(path, size or sum(p.size for p in parts), first.version,
                 first.metadata["general.architecture"], first.metadata, tensors)


def _info(path: Path, size: int, version: int, arch: str, metadata: dict[str, Any],
          tensors: list[Tensor]) -> GGUFInfo:
    def number(key: str) -> int | None:
        value = metadata.get(key)
        if isinstance(value, list):  # per-layer values: the largest sizes memory safely
            value = max((v for v in value if isinstance(v, int)), default=None)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def text(key: str) -> str:
        value = metadata.get(key)
        return value if isinstance(value, str) else ""

    embedding = number(f"{arch}.embedding_length") or 0
    heads = number(f"{arch}.attention.head_count") or 0
    head_size = embedding // heads if heads else 0
    file_type = number("general.file_type")
    return GGUFInfo(
        path=path, file_size=size, version=version, architecture=arch,
        name=text("general.name"), size_label=text("general.size_label"),
        file_type=file_type, quantization=_quantization(file_type, tensors),
        context_length=number(f"{arch}.context_length") or 0,
        block_count=number(f"{arch}.block_count") or 0,
        embedding_length=embedding, vocab_size=number(f"{arch}.vocab_size") or _length(
            metadata.get("tokenizer.ggml.tokens")), head_count=heads,
        head_count_kv=number(f"{arch}.attention.head_count_kv") or heads,
        key_length=number(f"{arch}.attention.key_length") or head_size,
        value_length=number(f"{arch}.attention.value_length") or head_size,
        chat_template=text("tokenizer.chat_template") or None,
        bos_token_id=number("tokenizer.ggml.bos_token_id"),
        eos_token_id=number("tokenizer.ggml.eos_token_id"),
        license=text("general.license"),
        parameter_count=sum(t.n_elements for t in tensors), tensor_count=len(tensors))


def _length(array: Any) -> int:
    if isinstance(array, Skipped):
        return array.count
    return len(array) if isinstance(array, list) else 0


def quantization_label(file_type: int | None) -> str:
    """A readable name for a llama.cpp file type (3 → "Q4_1"); "" when unknown."""
    if file_type is None:
        return ""
    try:
        name = LlamaFileType(file_type).name
    except ValueError:
        return f"type {file_type}"
    return {"ALL_F32": "F32", "GUESSED": ""}.get(name, name.removeprefix("MOSTLY_"))


def _quantization(file_type: int | None, tensors: list[Tensor]) -> str:
    label = quantization_label(file_type)
    if label or not tensors:
        return label
    # No file type recorded: name the data type that holds most of the weights.
    bytes_by_type: dict[GGMLQuantizationType, int] = {}
    for tensor in tensors:
        bytes_by_type[tensor.type] = bytes_by_type.get(tensor.type, 0) + tensor.n_bytes
    return max(bytes_by_type, key=bytes_by_type.__getitem__).name

