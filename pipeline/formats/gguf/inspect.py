"""What a GGUF file holds: tensor types, parameter count, bits per weight, pooling, context."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError


def describe_gguf(path: Path) -> dict[str, Any]:
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
    except (ValueError, OSError) as err:
        raise ModelprepError(path, f"not a readable GGUF file: {err}") from None
    types: Counter[str] = Counter()
    elements = data_bytes = 0
    for tensor in reader.tensors:
        types[tensor.tensor_type.name] += 1
        elements += int(tensor.n_elements)
        data_bytes += int(tensor.n_bytes)
    def field(name: str) -> Any:
        return reader.fields[name].contents() if name in reader.fields else None

    return {
        "architecture": field("general.architecture"),
        "bits_per_weight": round(8 * data_bytes / elements, 4),
        "file_type": field("general.file_type"),
        "gguf_version": field("GGUF.version"),
        "quantization_version": field("general.quantization_version"),
        "parameters": elements,
        "tensor_types": dict(sorted(types.items())),
        "tensors": len(reader.tensors),
    }
