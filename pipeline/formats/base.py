"""What every artifact format provides. A format is one package under pipeline/formats/ whose
`__init__` registers one `Format`; everything else in modelprep asks the registry.

A format owns its params.yaml section (base-build settings and a `variants` mapping, each variant
with its typed settings), how its base artifact is built from the Hugging Face folder, how a
variant is made from that base, which runtime opens a variant for validation, what a variant's
files are and what its release record says about them, its memory estimator and its runtime
requirements, and its colour on the release page.

Every artifact is a folder (`pipeline/layout.py`): a variant's folder holds exactly the files its
package holds besides the record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.fileio import tree_files

if TYPE_CHECKING:
    from pipeline.evaluate import EvaluationSpec
    from pipeline.hardware.memory import MemoryEstimator
    from pipeline.manifest.document import Manifest
    from pipeline.runtimes.base import Runtime
    from pipeline.settings import Reader


@dataclass(frozen=True)
class Variant:
    """One variant to build: its name in params.yaml, its format, and that format's settings for it."""

    name: str
    format: Format
    settings: Any  # the format's typed settings of this variant
    format_settings: Any  # the format's own section (base build), which its record may state


@dataclass(frozen=True)
class QuantizeInputs:
    """What a variant is made from: the format's base artifact, the corpus (calibration text) and the
    model's importance matrix folder (GGUF)."""

    base_dir: Path
    corpus_dir: Path
    imatrix_dir: Path


class Format(ABC):
    name: str  # params.yaml section, manifest `format`, base folder name
    colour: str  # its points on the release page's chart
    runtime_library: str  # the validating runtime's Python module (loaded before memory is measured)
    runtimes: tuple[str, ...]  # runtimes a node may serve it with (`check --runtime`, `match --runtime`)
    memory: MemoryEstimator

    # params.yaml ----------------------------------------------------------------------------------
    @abstractmethod
    def read_settings(self, r: Reader, data: Any, where: str) -> Any:
        """The format's section as typed settings, with a `variants` mapping of name -> variant settings."""

    # Building -------------------------------------------------------------------------------------
    @abstractmethod
    def build_base(self, hf_dir: Path, kind: str, settings: Any, out_dir: Path) -> None:
        """Write the unquantized artifact every variant of this format is made from."""

    @abstractmethod
    def quantize(self, variant: Variant, model: str, inputs: QuantizeInputs, out_dir: Path) -> float:
        """Write the variant's folder from the base; return the seconds the quantizer itself took."""

    # About how many bytes a build writes for a model of `parameters` weights, so that a stage can check
    # free disk before it starts.
    @abstractmethod
    def base_bytes(self, settings: Any, parameters: int) -> int:
        """Bytes the base build writes (`settings`: the format's section)."""

    @abstractmethod
    def variant_bytes(self, variant: Variant, parameters: int) -> int:
        """Bytes the variant's build writes."""

    # The artifact ---------------------------------------------------------------------------------
    def files(self, artifact: Path) -> dict[str, Path]:
        """Package name -> file of every file a node downloads (the record aside): the folder's files."""
        return {path.relative_to(artifact).as_posix(): path for path in tree_files(artifact)}

    @abstractmethod
    def size(self, artifact: Path, parameters: int) -> dict[str, Any]:
        """Weight bytes and bits per weight (`parameters` is the original model's count)."""

    @abstractmethod
    def recognises(self, path: Path) -> bool:
        """Whether `path` (a file or a folder) is an artifact of this format."""

    @abstractmethod
    def describe(self, path: Path) -> dict[str, Any]:
        """What the artifact holds (`modelprep describe`, and the record's block named after the format)."""

    @abstractmethod
    def quantization(self, variant: Variant, artifact: Path) -> dict[str, Any]:
        """The record's `quantization` block: type, precision and the settings that made the variant."""

    def file_role(self, name: str) -> str | None:
        """The role of a package file this format knows (weights, model...), or None for generic files."""
        return None

    # Validation -----------------------------------------------------------------------------------
    @abstractmethod
    def gpu_build(self) -> bool:
        """Whether the installed runtime was built to use a CUDA GPU."""

    @abstractmethod
    def open(self, artifact: Path, kind: str, spec: EvaluationSpec) -> Runtime:
        """The variant loaded in its runtime, on the device `spec` asks for."""

    # What it asks of a machine --------------------------------------------------------------------
    @abstractmethod
    def requirements(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The runtimes that run a release record's variant, with what each needs (manifest `runtimes`)."""

    def runtime_problem(self, runtime: str, manifest: Manifest) -> str | None:
        """Why `runtime` (one of `runtimes`) cannot serve this manifest's variant, or None."""
        return None
