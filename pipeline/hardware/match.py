"""`modelprep match`: which released variants a node can run, best first.

A node is a GPU from the table (its memory and compute capability) or a bare VRAM size, with
optionally the CUDA version its driver supports. A variant fits when one of its runtimes has a
CUDA build the node can load (that build's minimum CUDA and compute capability) and the VRAM
estimate of the requested profile (context per sequence, sequences at once) fits in the node's
memory. Best first: per model, the most accurate variant, then the smaller one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError
from pipeline.hardware.gpus import Gpu, version_key
from pipeline.manifest.document import Manifest, is_manifest

UNITS = {"": 2 ** 30, "b": 1, "k": 2 ** 10, "m": 2 ** 20, "g": 2 ** 30, "t": 2 ** 40}
SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(b|[kmgt](?:i?b)?)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in "24GiB", "24G", "24576MiB", "1000000B" or "24" (GiB); units are binary."""
    found = SIZE.match(text)
    if not found:
        raise ModelprepError("--vram", f"{text!r} is not a size such as 24GiB, 16G or 8192MiB")
    return int(float(found.group(1)) * UNITS[(found.group(2) or "")[:1].lower()])


@dataclass(frozen=True)
class Node:
    vram_bytes: int
    compute_capability: str | None = None  # unknown for a bare --vram
    cuda: str | None = None  # the newest CUDA the driver supports; None: any

    @classmethod
    def of_gpu(cls, gpu: Gpu, cuda: str | None) -> Node:
        return cls(gpu.memory_bytes, gpu.compute_capability, cuda)


@dataclass(frozen=True)
class Fit:
    manifest: Path
    model: str
    variant: str
    runtime: str
    context: int
    parallel: int
    vram_bytes: int
    accuracy: str
    rank: float  # lower is better


def _loadable(runtime: dict[str, Any], node: Node) -> bool:
    for build in runtime["gpu"]:
        cuda_ok = node.cuda is None or version_key(build["min_cuda"]) <= version_key(node.cuda)
        cc_ok = node.compute_capability is None or \
            version_key(build["min_compute_capability"]) <= version_key(node.compute_capability)
        if cuda_ok and cc_ok:
            return True
    return False


def manifests_in(directory: Path) -> list[Path]:
    """Every release manifest under `directory` (<model>/<variant>.json), for a registry without params.yaml."""
    paths = sorted(p for p in directory.glob("*/*.json") if is_manifest(p))
    if not paths:
        raise ModelprepError(directory, "no release manifests (<model>/<variant>.json) in this folder")
    return paths


def match(paths: list[Path], node: Node, context: int | None = None, parallel: int = 1,
          runtime: str | None = None) -> list[Fit]:
    """The variants among `paths` the node runs fully offloaded, per model best first."""
    fits = []
    for path in paths:
        manifest = Manifest.load(path)
        runtimes = [r for r in manifest.runtimes if runtime in (None, r["runtime"]) and _loadable(r, node)]
        profile = manifest.choose_profile(context, parallel)  # None before record_version 6: no estimate
        if not runtimes or profile is None or profile.vram_bytes > node.vram_bytes:
            continue
        kind = manifest.kind
        fits.append(Fit(path, manifest.model, manifest.variant, runtimes[0]["runtime"], profile.context,
                        parallel, profile.vram_bytes, kind.accuracy_brief(manifest.accuracy),
                        kind.loss(manifest.accuracy)))
    return sorted(fits, key=lambda f: (f.model, f.rank, f.vram_bytes))
