"""Choosing the device validation runs on, and describing it for the record."""

from __future__ import annotations

import ctypes
import platform
from functools import cache
from pathlib import Path

from pipeline.errors import ModelprepError


@cache
def _cuda_driver() -> ctypes.CDLL | None:
    """The CUDA driver library, initialised, or None where there is none or it finds no GPU.

    Asking the driver directly keeps torch out of processes that never use it: a speed measurement
    would otherwise count torch's few hundred MB as the variant's memory.
    """
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    return driver if driver.cuInit(0) == 0 else None


def cuda_available() -> bool:
    """Whether a CUDA GPU is visible to this process."""
    driver = _cuda_driver()
    count = ctypes.c_int(0)
    return driver is not None and driver.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0


def gpu_name() -> str:
    driver = _cuda_driver()
    device, name = ctypes.c_int(0), ctypes.create_string_buffer(256)
    if driver is None or driver.cuDeviceGet(ctypes.byref(device), 0) or driver.cuDeviceGetName(name, 256, device):
        return "unknown GPU"
    return name.value.decode(errors="replace")


def resolve_device(requested: str, runtime: str, gpu_build: bool) -> str:
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
           else "no CUDA GPU is visible")
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
    return f"cuda:{gpu_name()}" if device == "cuda" else f"cpu:{cpu_name()}"
