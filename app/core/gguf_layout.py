"""The GGUF byte layout: a bounded reader of the header, the metadata and the tensor table.

``gguf_info`` turns what is read here into facts and messages. The reader works on a memory
map of a whole file or on the first bytes of a remote one: reading past the bytes at hand
but not past the file's end raises NeedMore (fetch more), past the end raises Damaged.
"""

from __future__ import annotations

import math
import mmap
import struct
from dataclasses import dataclass
from typing import Any

from gguf.constants import (
    GGML_QUANT_SIZES,
    GGUF_DEFAULT_ALIGNMENT,
    GGMLQuantizationType,
    GGUFValueType,
)

HEADER = struct.Struct("<4sIQQ")  # magic, version, tensor count, metadata count
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

Buffer = bytes | bytearray | memoryview | mmap.mmap


class Damaged(Exception):
    """Parsing stopped: the metadata does not describe a valid GGUF layout."""


class NeedMore(Exception):
    """Parsing needs the file's bytes up to ``needed`` (only when reading a file's start)."""

    def __init__(self, needed: int) -> None:
        super().__init__(needed)
        self.needed = needed


@dataclass(frozen=True)
class Skipped:
    """A long array (a tokenizer vocabulary) that was stepped over, not decoded."""

    count: int


@dataclass(frozen=True)
class Tensor:
    """One entry of the tensor table: where a weight lies and how large it is."""

    name: str
    type: GGMLQuantizationType
    n_elements: int
    n_bytes: int
    offset: int


class Cursor:
    """Reads little-endian GGUF values, never past the file's end or the bytes at hand.

    ``size`` is the whole file's size; ``available`` how many of its first bytes ``data``
    holds (all of them unless it is the start of a remote file).
    """

    def __init__(self, data: Buffer, size: int, pos: int, available: int | None = None) -> None:
        self.data, self.size, self.pos = data, size, pos
        self.available = size if available is None else min(available, size)

    def beyond(self, needed: int, what: str) -> None:
        """Raise for a read that would end at ``needed``: Damaged past the file, else NeedMore."""
        if needed > self.size:
            raise Damaged(f"{what} runs past the end of the file")
        raise NeedMore(needed)

    def skip(self, count: int, what: str) -> int:
        """Step over ``count`` bytes; return where they start."""
        start = self.pos
        if count < 0:
            raise Damaged(f"{what} has a negative length")
        if start + count > self.available:
            self.beyond(start + count, what)
        self.pos = start + count
        return start

    def unpack(self, fmt: struct.Struct, what: str) -> Any:
        """One fixed-size value."""
        return fmt.unpack_from(self.data, self.skip(fmt.size, what))[0]

    def string(self, what: str) -> str:
        """One length-prefixed UTF-8 string."""
        length = self.unpack(_U64, what)
        start = self.skip(length, what)
        return bytes(self.data[start:start + length]).decode("utf-8", errors="replace")

    def value(self, raw_type: int, what: str) -> Any:
        """One metadata value; long arrays are skipped and come back as Skipped."""
        kind = _value_type(raw_type, what)
        if kind is GGUFValueType.STRING:
            return self.string(what)
        if kind is not GGUFValueType.ARRAY:
            return self.unpack(_SCALARS[kind], what)
        item_type = _value_type(self.unpack(_U32, what), what)
        count = self.unpack(_U64, what)
        if item_type is GGUFValueType.ARRAY:
            raise Damaged(f"{what} is an array of arrays")
        item = _SCALARS.get(item_type)
        if count * (item.size if item else 8) > self.size - self.pos:
            raise Damaged(f"{what} claims {count:,} items, more than the file holds")
        if item is None:  # strings: walk the lengths
            if count <= _MAX_KEPT_ARRAY:
                return [self.string(what) for _ in range(count)]
            self._skip_strings(count, what)
            return Skipped(count)
        start = self.skip(item.size * count, what)
        if count > _MAX_KEPT_ARRAY:
            return Skipped(count)
        return list(struct.unpack_from(f"<{count}{item.format[-1]}", self.data, start))

    def _skip_strings(self, count: int, what: str) -> None:
        # The hot loop for tokenizer vocabularies (about 100,000 strings), kept lean.
        data, end, pos, length_of = self.data, self.available, self.pos, _U64.unpack_from
        for _ in range(count):
            if pos + 8 > end:
                self.beyond(pos + 8, what)
            pos += 8 + length_of(data, pos)[0]
        if pos > end:
            self.beyond(pos, what)
        self.pos = pos


def _value_type(raw: int, what: str) -> GGUFValueType:
    try:
        return GGUFValueType(raw)
    except ValueError:
        raise Damaged(f"{what} has an unknown value type ({raw})") from None


def read_metadata(cursor: Cursor, count: int) -> dict[str, Any]:
    """The ``count`` key/value pairs that follow the header."""
    if count * _MIN_KV_BYTES > cursor.size:
        raise Damaged(f"it claims {count:,} metadata entries, more than the file can hold")
    metadata: dict[str, Any] = {}
    for index in range(count):
        key = cursor.string(f"metadata entry {index + 1}")
        what = f"metadata entry '{key}'"
        if key in metadata:
            raise Damaged(f"{what} appears twice")
        metadata[key] = cursor.value(cursor.unpack(_U32, what), what)
    return metadata


def _read_tensor(cursor: Cursor, index: int) -> Tensor:
    name = cursor.string(f"tensor {index + 1}")
    what = f"tensor '{name}'"
    n_dims = cursor.unpack(_U32, what)
    if not 1 <= n_dims <= _MAX_DIMS:
        raise Damaged(f"{what} has {n_dims} dimensions")
    dims = [cursor.unpack(_U64, what) for _ in range(n_dims)]
    raw_type = cursor.unpack(_U32, what)
    offset = cursor.unpack(_U64, what)
    try:
        kind = GGMLQuantizationType(raw_type)
        block, block_bytes = GGML_QUANT_SIZES[kind]
    except (ValueError, KeyError):
        raise Damaged(f"{what} has an unknown data type ({raw_type})") from None
    if dims[0] % block:
        raise Damaged(f"{what} does not fit its data type's block size")
    n_elements = math.prod(dims)
    return Tensor(name, kind, n_elements, n_elements // block * block_bytes, offset)


def read_tensors(cursor: Cursor, count: int) -> list[Tensor]:
    """The tensor table: ``count`` entries after the metadata."""
    if count * _MIN_TENSOR_INFO_BYTES > cursor.size:
        raise Damaged(f"it claims {count:,} tensors, more than the file can hold")
    tensors = [_read_tensor(cursor, index) for index in range(count)]
    if len({t.name for t in tensors}) < len(tensors):
        raise Damaged("a tensor name appears twice")
    return tensors


def alignment(metadata: dict[str, Any]) -> int:
    """Where tensor data starts is a multiple of this (``general.alignment``, default 32)."""
    value = metadata.get("general.alignment", GGUF_DEFAULT_ALIGNMENT)
    if not isinstance(value, int) or value <= 0 or value & (value - 1):
        raise Damaged(f"its alignment ({value!r}) is not a power of two")
    return value
