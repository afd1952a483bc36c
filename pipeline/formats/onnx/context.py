"""What an ONNX pass works with: the base export, where to write, calibration text and scratch space."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PassContext:
    base_dir: Path  # the fp32 export, with its tokenizer
    out_dir: Path  # the variant's folder being written (a temporary one, renamed when complete)
    kind: str  # decoder or encoder
    corpus_dir: Path
    scratch: Path
    external_min_bytes: int  # weights this large or larger go to model.onnx.data
