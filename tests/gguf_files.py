"""Small real GGUF files for tests, written with the ``gguf`` package's writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGUFWriter


def write_gguf(path: Path, arch: str = "llama", *, tensors: int = 1, name: str = "",
               context: int = 0, parts: int = 1, small_first_part: bool = False) -> Path:
    """A valid GGUF of ``tensors`` 8×4 F32 weights; returns ``path``.

    With ``parts`` > 1 the model is split like llama.cpp's gguf-split does:
    ``<stem>-00001-of-0000N.gguf`` …, and the path of the first part is returned
    (``small_first_part``: the first part holds the metadata only).
    """
    per_part = 0
    if parts > 1:
        weighted = parts - 1 if small_first_part else parts
        per_part = -(-tensors // weighted)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(path, arch, split_max_tensors=per_part,
                        small_first_shard=small_first_part and parts > 1)
    if name:
        writer.add_name(name)
    if context:
        writer.add_context_length(context)
    for index in range(tensors):
        writer.add_tensor(f"weights.{index}", np.full((8, 4), index, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    if parts > 1:
        return path.with_name(f"{path.stem}-00001-of-{parts:05d}.gguf")
    return path
