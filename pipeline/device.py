"""Choosing the device validation runs on, and describing it for the record."""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path

from pipeline.errors import ModelprepError


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_device(requested: str) -> str:
    """`auto` means CUDA when torch sees a CUDA GPU, else CPU; `cuda` without one is an error."""
    if requested == "auto":
        return "cuda" if cuda_available() else "cpu"
    if requested == "cuda" and not cuda_available():
        raise ModelprepError("params.yaml", "evaluation.device is 'cuda' but torch sees no CUDA GPU")
    return requested


@cache
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(device: str) -> str:
    if device == "cuda":
        import torch

        return f"cuda:{torch.cuda.get_device_name(0)}"
    return f"cpu:{cpu_name()}"
