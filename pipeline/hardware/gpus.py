"""The GPU table (`gpus.yaml`) and which of its cards run a variant fully offloaded."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ModelprepError
from pipeline.progress import MIB

TABLE = Path(__file__).with_name("gpus.yaml")


def version_key(text: str) -> tuple[int, int, int]:
    """A dotted version (CUDA, compute capability, runtime release) for comparing: "12" is "12.0.0"."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))[:3]


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_mib: int
    memory_gb: int
    compute_capability: str
    akash: str

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * MIB


@cache
def gpu_table() -> tuple[Gpu, ...]:
    return tuple(Gpu(**row) for row in yaml.safe_load(TABLE.read_text(encoding="utf-8")))


def find_gpu(name: str) -> Gpu:
    """A GPU by its table name, case and spacing aside; a unique partial name is enough."""
    def key(text: str) -> str:
        return "".join(text.lower().split())

    wanted = key(name)
    exact = [g for g in gpu_table() if key(g.name) == wanted]
    partial = exact or [g for g in gpu_table() if wanted in key(g.name)]
    if len(partial) != 1:
        names = ", ".join(g.name for g in (partial or gpu_table()))
        raise ModelprepError(TABLE, f"GPU {name!r} is {'ambiguous' if partial else 'not in the table'}: {names}")
    return partial[0]


def min_capability(runtimes: list[dict[str, Any]]) -> str:
    """The lowest compute capability any CUDA build of any of the runtimes supports."""
    builds = [build for runtime in runtimes for build in runtime["gpu"]]
    return min((b["min_compute_capability"] for b in builds), key=version_key)


def fitting_gpus(vram_bytes: int, runtimes: list[dict[str, Any]]) -> list[str]:
    """Table GPUs with the memory for `vram_bytes` and a compute capability a runtime's CUDA build supports."""
    lowest = version_key(min_capability(runtimes))
    return [g.name for g in gpu_table() if g.memory_bytes >= vram_bytes and version_key(g.compute_capability) >= lowest]
