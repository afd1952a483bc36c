"""What the variants need built per model, from params.yaml: which formats have variants (so which
bases) and whether any GGUF variant is quantized with an importance matrix.

It is a stage's output rather than a params dependency of the base and imatrix stages: DVC reruns the
plan whenever a variant changes, but its bytes change only when one of these answers does, so adding a
variant still builds only that variant, and a base no variant reads (a 70B model's float32 ONNX
export: hours and 280 GB) is never built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline import formats
from pipeline.fileio import read_json, write_json
from pipeline.settings import SettingsFile


def make_plan(settings: SettingsFile) -> dict[str, Any]:
    sections = {fmt.name: settings.read(fmt.name, fmt.read_settings) for fmt in formats.formats()}
    return {"bases": {name: bool(section.variants) for name, section in sections.items()},
            "imatrix": any(v.imatrix for v in sections["gguf"].variants.values())}


def write_plan(settings: SettingsFile, path: Path) -> None:
    write_json(path, make_plan(settings))


def read_plan(path: Path) -> dict[str, Any]:
    return read_json(path)
