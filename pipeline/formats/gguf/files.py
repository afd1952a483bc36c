"""Which files of a GGUF artifact hold the model: one file, or llama-gguf-split's shards in order."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.errors import ModelprepError

SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")  # llama-gguf-split's names


def gguf_files(path: Path) -> list[Path]:
    """The GGUF files of an artifact holding the model: the file itself, the one GGUF file in its folder,
    or its split shards in order (the importance matrix in `imatrix/` is not one of them)."""
    if path.is_file():
        return [path]
    found = sorted(path.glob("*.gguf")) if path.is_dir() else []
    shards = [p for p in found if SHARD.search(p.name)]
    if len(found) == 1 or (found and shards == found and len(found) == int(SHARD.search(found[0].name).group(2))):
        return found
    raise ModelprepError(path, f"expected one GGUF file or a complete set of split shards, found {len(found)} files; "
                               "rebuild it")


def gguf_file(path: Path) -> Path:
    """The file llama.cpp opens: the GGUF file, or the first of its shards."""
    return gguf_files(path)[0]
