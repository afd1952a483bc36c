"""What a GGUF model holds: tensor types, parameter count, bits per weight, shards, the importance
matrix it was quantized with, context."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError

IMATRIX_KEYS = ("file", "dataset", "entries_count", "chunks_count")  # quantize.imatrix.*, as llama-quantize writes


def _reader(path: Path):
    from gguf import GGUFReader

    try:
        return GGUFReader(path)
    except (ValueError, OSError) as err:
        raise ModelprepError(path, f"not a readable GGUF file: {err}") from None


def describe_gguf(paths: list[Path]) -> dict[str, Any]:
    """The model in `paths`: one GGUF file, or its split shards in order (metadata from the first)."""
    readers = [_reader(path) for path in paths]
    types: Counter[str] = Counter()
    elements = data_bytes = 0
    for tensor in (t for reader in readers for t in reader.tensors):
        types[tensor.tensor_type.name] += 1
        elements += int(tensor.n_elements)
        data_bytes += int(tensor.n_bytes)
    fields = readers[0].fields

    def field(name: str) -> Any:
        return fields[name].contents() if name in fields else None

    imatrix = {key: field(f"quantize.imatrix.{key}") for key in IMATRIX_KEYS}
    return {
        "architecture": field("general.architecture"),
        "bits_per_weight": round(8 * data_bytes / elements, 4),
        "file_type": field("general.file_type"),
        "gguf_version": field("GGUF.version"),
        "imatrix": imatrix if imatrix["file"] is not None else None,
        "quantization_version": field("general.quantization_version"),
        "parameters": elements,
        "shards": len(paths),
        "tensor_types": dict(sorted(types.items())),
        "tensors": sum(len(reader.tensors) for reader in readers),
    }
