"""Choosing the device validation runs on, and describing it for the record."""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path

from pipeline.errors import ModelprepError


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_device(requested: str, runtime: str, gpu_build: bool = True) -> str:
    """The device one runtime runs on.

    `auto` is CUDA when a GPU is visible and this runtime's build can use it, else the CPU, so a
    GPU machine with a CPU-only runtime build still validates (and records that it used the CPU).
    `cuda` that cannot be honoured is an error, never a silent fallback.
    """
    if requested == "cpu":
        return "cpu"
    if gpu_build and cuda_available():
        return "cuda"
    if requested == "auto":
        return "cpu"
    why = (f"{runtime} was installed without CUDA (set it up with `make setup CUDA=1`)" if not gpu_build
           else "torch sees no CUDA GPU")
    raise ModelprepError("params.yaml", f"evaluation.device is 'cuda' but {why}")


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
