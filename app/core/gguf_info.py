"""What a GGUF model file says about itself, read and checked before llama.cpp sees it.

The file is parsed here rather than with ``gguf.GGUFReader``: that reader builds a numpy
view for every element of the tokenizer arrays (3.4 s for the 98 MB starter model) and
fails with a reshape error on a truncated file before the damage can be described. Only
the format's tables (value types, quantisation block sizes, file types) come from ``gguf``.
"""

from __future__ import annotations

import math
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf.constants import (
    GGML_QUANT_SIZES,
    GGUF_DEFAULT_ALIGNMENT,
    GGMLQuantizationType,
    GGUFValueType,
    LlamaFileType,
)

from app.core.errors import ModelFileError
from app.core.gguf_check import GGUF_MAGIC, SUPPORTED_VERSIONS

_HEADER = struct.Struct("<4sIQQ")  # magic, version, tensor count, metadata count
_SCALARS = {GGUFValueType[name]: struct.Struct("<" + code) for name, code in (
    ("UINT8", "B"), ("INT8", "b"), ("UINT16", "H"), ("INT16", "h"), ("UINT32", "I"),
    ("INT32", "i"), ("FLOAT32", "f"), ("BOOL", "?"), ("UINT64", "Q"), ("INT64", "q"),
    ("FLOAT64", "d"))}
_U32, _U64 = _SCALARS[GGUFValueType.UINT32], _SCALARS[GGUFValueType.UINT64]
# Arrays longer than this (tokenizer vocabularies, merges) are skipped, not decoded.
_MAX_KEPT_ARRAY = 1024
_MAX_DIMS = 4  # GGML_MAX_DIMS
_MIN_KV_BYTES = 8 + 4 + 1  # key length, value type, smallest value
_MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8  # name length, dimension count, type, offset
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


class _Damaged(Exception):
    """Parsing stopped: the metadata does not describe a valid GGUF layout."""


@dataclass(frozen=True)
class _Skipped:
    """A long array (a tokenizer vocabulary) that was stepped over, not decoded."""

    count: int


class _Cursor:
    """Reads little-endian GGUF values from a memory map, never past its end."""

    def __init__(self, data: mmap.mmap, size: int, pos: int) -> None:
        self.data, self.size, self.pos = data, size, pos

    def skip(self, count: int, what: str) -> int:
        start = self.pos
        if count < 0 or start + count > self.size:
            raise _Damaged(f"{what} runs past the end of the file")
        self.pos = start + count
        return start

    def unpack(self, fmt: struct.Struct, what: str) -> Any:
        return fmt.unpack_from(self.data, self.skip(fmt.size, what))[0]

    def string(self, what: str) -> str:
        length = self.unpack(_U64, what)
        start = self.skip(length, what)
        return self.data[start:start + length].decode("utf-8", errors="replace")

    def value(self, raw_type: int, what: str) -> Any:
        """One metadata value; long arrays are skipped and come back as _Skipped."""
        kind = _value_type(raw_type, what)
        if kind is GGUFValueType.STRING:
            return self.string(what)
        if kind is not GGUFValueType.ARRAY:
            return self.unpack(_SCALARS[kind], what)
        item_type = _value_type(self.unpack(_U32, what), what)
        count = self.unpack(_U64, what)
        if item_type is GGUFValueType.ARRAY:
            raise _Damaged(f"{what} is an array of arrays")
        item = _SCALARS.get(item_type)
        if count * (item.size if item else 8) > self.size - self.pos:
            raise _Damaged(f"{what} claims {count:,} items, more than the file holds")
        if item is None:  # strings: walk the lengths
            if count <= _MAX_KEPT_ARRAY:
                return [self.string(what) for _ in range(count)]
            self._skip_strings(count, what)
            return _Skipped(count)
        start = self.skip(item.size * count, what)
        if count > _MAX_KEPT_ARRAY:
            return _Skipped(count)
        return list(struct.unpack_from(f"<{count}{item.format[-1]}", self.data, start))

    def _skip_strings(self, count: int, what: str) -> None:
        # The hot loop for tokenizer vocabularies (about 100,000 strings), kept lean.
        data, size, pos, length_of = self.data, self.size, self.pos, _U64.unpack_from
        for _ in range(count):
            if pos + 8 > size:
                break
            pos += 8 + length_of(data, pos)[0]
        else:
            if pos <= size:
                self.pos = pos
                return
        raise _Damaged(f"{what} runs past the end of the file")


def _value_type(raw: int, what: str) -> GGUFValueType:
    try:
        return GGUFValueType(raw)
    except ValueError:
        raise _Damaged(f"{what} has an unknown value type ({raw})") from None


@dataclass(frozen=True)
class _Tensor:
    name: str
    type: GGMLQuantizationType
    n_elements: int
    n_bytes: int
    offset: int


def _read_metadata(cursor: _Cursor, count: int) -> dict[str, Any]:
    if count * _MIN_KV_BYTES > cursor.size:
        raise _Damaged(f"it claims {count:,} metadata entries, more than the file can hold")
    metadata: dict[str, Any] = {}
    for index in range(count):
        key = cursor.string(f"metadata entry {index + 1}")
        what = f"metadata entry '{key}'"
        if key in metadata:
            raise _Damaged(f"{what} appears twice")
        metadata[key] = cursor.value(cursor.unpack(_U32, what), what)
    return metadata


def _read_tensor(cursor: _Cursor, index: int) -> _Tensor:
    name = cursor.string(f"tensor {index + 1}")
    what = f"tensor '{name}'"
    n_dims = cursor.unpack(_U32, what)
    if not 1 <= n_dims <= _MAX_DIMS:
        raise _Damaged(f"{what} has {n_dims} dimensions")
    dims = [cursor.unpack(_U64, what) for _ in range(n_dims)]
    raw_type = cursor.unpack(_U32, what)
    offset = cursor.unpack(_U64, what)
    try:
        kind = GGMLQuantizationType(raw_type)
        block, block_bytes = GGML_QUANT_SIZES[kind]
    except (ValueError, KeyError):
        raise _Damaged(f"{what} has an unknown data type ({raw_type})") from None
    if dims[0] % block:
        raise _Damaged(f"{what} does not fit its data type's block size")
    n_elements = math.prod(dims)
    return _Tensor(name, kind, n_elements, n_elements // block * block_bytes, offset)


def _read_tensors(cursor: _Cursor, count: int) -> list[_Tensor]:
    if count * _MIN_TENSOR_INFO_BYTES > cursor.size:
        raise _Damaged(f"it claims {count:,} tensors, more than the file can hold")
    tensors = [_read_tensor(cursor, index) for index in range(count)]
    if len({t.name for t in tensors}) < len(tensors):
        raise _Damaged("a tensor name appears twice")
    return tensors


def _alignment(metadata: dict[str, Any]) -> int:
    value = metadata.get("general.alignment", GGUF_DEFAULT_ALIGNMENT)
    if not isinstance(value, int) or value <= 0 or value & (value - 1):
        raise _Damaged(f"its alignment ({value!r}) is not a power of two")
    return value


def read_gguf_info(path: str | Path) -> GGUFInfo:
    """Check that ``path`` is a complete, readable GGUF model and return what it says.

    Raises ModelFileError with a message naming the problem (missing, unreadable, not GGUF,
    unsupported version, damaged metadata, no architecture, incomplete download). The file
    is closed and unmapped before this returns.
    """
    path = Path(path)
    name = path.name or str(path)
    if not path.exists():
        raise ModelFileError(f"The model file '{name}' does not exist.",
                             "Choose another model, or download this one again.")
    if not path.is_file():
        raise ModelFileError(f"'{name}' is not a file.", "Choose a .gguf model file.")
    try:
        with path.open("rb") as handle:
            size = path.stat().st_size
            _check_header(name, handle.read(_HEADER.size), size)
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _parse(path, name, data, size)
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
    if len(header) < _HEADER.size:
        raise ModelFileError(f"The model file '{name}' is too short to be a model "
                             f"({size} bytes).", _REDOWNLOAD)
    version = _HEADER.unpack(header)[1]
    if version in SUPPORTED_VERSIONS:
        return
    if version & 0xFFFF == 0:
        detail = "was converted for big-endian computers, which this app cannot read"
    else:
        detail = f"uses GGUF version {version}, which this app cannot read"
    raise ModelFileError(f"'{name}' {detail}.",
                         "Use a newer conversion of the model, or update Hearth.")


def _parse(path: Path, name: str, data: mmap.mmap, size: int) -> GGUFInfo:
    _magic, version, tensor_count, kv_count = _HEADER.unpack_from(data, 0)
    cursor = _Cursor(data, size, _HEADER.size)
    try:
        metadata = _read_metadata(cursor, kv_count)
        architecture = metadata.get("general.architecture")
        if architecture is not None and not isinstance(architecture, str):
            raise _Damaged("general.architecture is not text")
        if not architecture:
            raise ModelFileError(f"The model file '{name}' does not say which model "
                                 "architecture it uses (general.architecture is missing).",
                                 "It may not be a language model; choose another model.")
        tensors = _read_tensors(cursor, tensor_count)
        alignment = _alignment(metadata)
    except (_Damaged, struct.error, ValueError, OverflowError) as exc:
        raise ModelFileError(f"The model file '{name}' cannot be used: its metadata is "
                             f"damaged ({exc}).", _REDOWNLOAD) from exc
    if not tensors:
        raise ModelFileError(f"The model file '{name}' contains no model weights.",
                             "It may be a vocabulary-only file; choose another model.")
    data_start = -(-cursor.pos // alignment) * alignment
    needed = max(data_start + t.offset + t.n_bytes for t in tensors)
    if needed > size:
        raise ModelFileError(f"The model file '{name}' is incomplete: it ends at "
                             f"{_size_text(size)} but its tensors need {_size_text(needed)}.",
                             "Download it again.")
    return _info(path, size, version, architecture, metadata, tensors)


def _info(path: Path, size: int, version: int, arch: str, metadata: dict[str, Any],
          tensors: list[_Tensor]) -> GGUFInfo:
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
    if isinstance(array, _Skipped):
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


def _quantization(file_type: int | None, tensors: list[_Tensor]) -> str:
    label = quantization_label(file_type)
    if label or not tensors:
        return label
    # No file type recorded: name the data type that holds most of the weights.
    bytes_by_type: dict[GGMLQuantizationType, int] = {}
    for tensor in tensors:
        bytes_by_type[tensor.type] = bytes_by_type.get(tensor.type, 0) + tensor.n_bytes
    return max(bytes_by_type, key=bytes_by_type.__getitem__).name


def _size_text(size: int) -> str:
    if size >= 1e9:
        return f"{size / 1e9:.2f} GB"
    if size >= 1e5:
        return f"{size / 1e6:.1f} MB"
    return f"{size / 1e3:.1f} KB" if size >= 1000 else f"{size} bytes"
