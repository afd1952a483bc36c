"""dvc.lock as a clean build writes it: one entry per stage of dvc.yaml, in name order.

DVC appends a stage's entry when it first runs and never removes one, so a lock that lived through
renamed stages, dropped variants or edited params holds entries no clean build writes, in the order
of its history (a clean build writes them in run order). Either would make a rebuild's dvc.lock
differ from the committed one with nothing else changed. `modelprep collect` (after every dvc repro
of `make release`) drops the stale entries and sorts the rest, through DVC's own YAML round trip.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.dvc_cli import dvc_command
from pipeline.errors import ModelprepError

LOCK = "dvc.lock"


def tidy_lock(root: Path) -> int:
    """Drop entries of stages dvc.yaml no longer has and sort the rest; how many were dropped."""
    from dvc.utils.serialize import modify_yaml

    listed = subprocess.run([dvc_command(), "stage", "list", "--name-only"], cwd=root, capture_output=True,
                            text=True)
    if listed.returncode != 0:
        raise ModelprepError("dvc.yaml", f"dvc stage list failed: {listed.stderr.strip()[-300:]}")
    stages = set(listed.stdout.split())
    if not (root / LOCK).is_file():
        return 0
    with modify_yaml(str(root / LOCK)) as data:
        entries = data.get("stages", {})
        stale = [name for name in entries if name not in stages]
        kept = {name: entries[name] for name in sorted(entries) if name in stages}
        entries.clear()
        entries.update(kept)
    return len(stale)
