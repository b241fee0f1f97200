"""A cheap first look at a model file, before llama.cpp sees it."""

from __future__ import annotations

import struct
from pathlib import Path

from app.core.errors import ModelFileError

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
_HEADER = struct.Struct("<4sIQQ")  # magic, version, tensor count, metadata count


def check_model_file(path: str | Path) -> None:
    """Raise ModelFileError unless ``path`` is a readable file with a GGUF header.

    This catches the common bad inputs (missing file, a folder, an empty or non-GGUF
    file) with a clear message; deeper damage is reported by the engine's loader.
    """
    path = Path(path)
    name = path.name or str(path)
    hint = "Choose another model, or download this one again."
    if not path.exists():
        raise ModelFileError(f"The model file '{name}' does not exist any more.", hint)
    if not path.is_file():
        raise ModelFileError(f"'{name}' is not a file.", hint)
    try:
        with path.open("rb") as handle:
            header = handle.read(_HEADER.size)
    except OSError as exc:
        raise ModelFileError(f"The model file '{name}' cannot be read: {exc.strerror}.",
                             hint) from exc
    if len(header) < _HEADER.size:
        raise ModelFileError(f"The model file '{name}' is empty or truncated.", hint)
    magic, version, _tensors, _kvs = _HEADER.unpack(header)
    if magic != GGUF_MAGIC:
        raise ModelFileError(f"'{name}' is not a GGUF model file.", hint)
    if version not in SUPPORTED_VERSIONS:
        raise ModelFileError(f"'{name}' uses GGUF version {version}, which this app cannot read.",
                             "Update Hearth or use a newer conversion of the model.")
