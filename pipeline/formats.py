"""The artifact formats modelprep builds, one entry per format.

A format says how to open an artifact for validation (its runtime), how big it is, which files a
node downloads, and what its release record states about it. The evaluator, the release stage
and the report go through this table; a new format is one new module and one row here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from pipeline.gguf.format import GGUFFormat
from pipeline.onnx.format import ONNXFormat
from pipeline.params import EvaluationSpec, Params
from pipeline.runtimes.base import Runtime


class ArtifactFormat(Protocol):
    name: str
    library: str

    def open(self, artifact: Path, kind: str, spec: EvaluationSpec) -> Runtime: ...

    def size(self, artifact: Path, parameters: int) -> dict[str, Any]: ...

    def files(self, artifact: Path) -> list[Path]: ...

    def record(self, params: Params, variant: str, artifact: Path) -> dict[str, Any]: ...


FORMATS: dict[str, ArtifactFormat] = {f.name: f for f in (GGUFFormat(), ONNXFormat())}


def format_of(params: Params, variant: str) -> ArtifactFormat:
    return FORMATS[params.format_of(variant)]
