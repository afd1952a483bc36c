"""Free disk, checked before a stage writes, so a build of a large model stops at once with the folder
and the shortfall named rather than hours in with a half-written file; and, when the disk fills all
the same (another process wrote meanwhile, an estimate was short), one line naming the folder.

What a stage will write is estimated from the model's weight count (`checkpoint_parameters`) and the
bits per weight its format states for the variant (`Format.base_bytes`, `Format.variant_bytes`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.progress import human_bytes

MARGIN = 0.10  # estimates are bits-per-weight figures; leave room for metadata and small tensors
SLACK = 64 * 2 ** 20


def checkpoint_parameters(hf_dir: Path) -> int:
    """Weights in a Hugging Face folder's safetensors files, from their headers alone."""
    count = 0
    for path in sorted(hf_dir.glob("*.safetensors")):
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
        count += sum(math.prod(entry["shape"]) for name, entry in header.items() if name != "__metadata__")
    return count


def _existing(folder: Path) -> Path:
    while not folder.exists():
        folder = folder.parent
    return folder


def same_file_system(a: Path, b: Path) -> bool:
    return os.stat(_existing(a)).st_dev == os.stat(_existing(b)).st_dev


def require_free(folder: Path, needed: int, what: str) -> None:
    """Fail unless the file system holding `folder` has room for `needed` bytes and a margin."""
    wanted = int(needed * (1 + MARGIN)) + SLACK
    free = shutil.disk_usage(_existing(folder)).free
    if free < wanted:
        raise ModelprepError(folder, f"not enough free disk for {what}: needs about {human_bytes(wanted)}, "
                                     f"{human_bytes(free)} free (short by {human_bytes(wanted - free)})")


FULL = 1 << 20  # below this much free, a failed write is taken to be the full disk's doing


def no_space(folder: Path, how: str) -> ModelprepError:
    """The one-line error for a write into `folder` that the full disk stopped; `how` says which write."""
    free = shutil.disk_usage(_existing(folder)).free
    return ModelprepError(folder, f"no space left on device {how} ({human_bytes(free)} free)")


def disk_is_full(folder: Path) -> bool:
    return shutil.disk_usage(_existing(folder)).free < FULL
