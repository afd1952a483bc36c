"""`modelprep export akash`: a variant's compute profile in Akash's SDL (deploy.yaml) shape.

The profile asks for one NVIDIA GPU among the table's models that fit the chosen memory profile
(`gpu_fit`), each with its memory size, so a provider's card is matched on model and RAM; a CPU per
sequence (at least 2); host memory for the process (the RAM estimate of the profile plus a margin
for the server process) and storage for the package files twice (download and unpacked CAR).
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.errors import ModelprepError
from pipeline.hardware.gpus import gpu_table
from pipeline.manifest.document import Manifest
from pipeline.progress import GIB, MIB

PROCESS_MARGIN = 512 * MIB  # interpreter or server binary, HTTP stack, tokenizer


def _mebibytes(count: int, step: int = 256) -> str:
    return f"{math.ceil(count / MIB / step) * step}Mi"


def _gibibytes(count: int) -> str:
    return f"{max(1, math.ceil(count / GIB))}Gi"


def compute_profile(manifest: Manifest, context: int | None = None, parallel: int = 1) -> dict[str, Any]:
    """`profiles.compute.<name>` for the manifest's memory profile at `context` (default: the longest)."""
    if not manifest.profiles:
        raise ModelprepError(manifest.path, f"record_version {manifest.record_version} has no memory profiles; "
                                            "rebuild it with this modelprep (record_version 6 or later)")
    profile = manifest.choose_profile(context, parallel)
    if profile is None:
        offered = sorted({(p.context, p.parallel) for p in manifest.profiles})
        raise ModelprepError(manifest.path, f"no memory profile holds {context or 'any'} tokens x {parallel} "
                                            f"sequence(s); it has (context, parallel) {offered}")
    fit = next((f for f in manifest["gpu_fit"] if (f["context"], f["parallel"]) == (profile.context, parallel)),
               {"gpus": []})
    by_name = {g.name: g for g in gpu_table()}
    models = sorted({(by_name[name].akash, by_name[name].memory_gb) for name in fit["gpus"] if name in by_name})
    if not models:
        raise ModelprepError(manifest.path, f"no GPU of the table fits {profile.context} tokens x {parallel}")
    return {"resources": {
        "cpu": {"units": max(2, parallel)},
        "memory": {"size": _mebibytes(profile.ram_bytes + PROCESS_MARGIN)},
        "storage": [{"size": _gibibytes(2 * manifest["memory"]["disk_bytes"])}],
        "gpu": {"units": 1, "attributes": {"vendor": {"nvidia": [
            {"model": model, "ram": f"{memory_gb}Gi"} for model, memory_gb in models]}}},
    }}


def akash_sdl(manifest: Manifest, context: int | None = None, parallel: int = 1) -> dict[str, Any]:
    """The SDL fragment: version and the compute profile, named after the variant."""
    profile = compute_profile(manifest, context, parallel)
    name = manifest["identity"]["name"].lower().replace("_", "-")
    return {"version": "2.0", "profiles": {"compute": {name: profile}}}
