"""What an ONNX pass may need besides the model: the base export, calibration text and scratch space."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PassContext:
    """What a pass may need besides the model: calibration text and where to scribble."""

    base_dir: Path  # the fp32 export, with its tokenizer
    kind: str  # decoder or encoder
    corpus_dir: Path
    scratch: Path
