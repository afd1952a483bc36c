"""Whether what `dvc repro --keep-going` left may be signed, pinned and indexed (`make release` asks).

A variant that misses its accuracy gate fails its release stage on purpose: it gets no manifest, and
`modelprep withdraw` takes down the one it had. Any other stage DVC left unbuilt (its command failed,
or it was skipped because a stage it depends on failed) means the manifests may be half-built or
stale, so the release stops before signing them.
"""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING

from pipeline.dvc_cli import dvc_command
from pipeline.errors import ModelprepError
from pipeline.fileio import read_json
from pipeline.gates import check_gate, gate_of
from pipeline.kinds import kind_of
from pipeline.layout import Layout

if TYPE_CHECKING:
    from pipeline.params import Params


def release_stage(model: str, variant: str) -> str:
    """dvc.yaml's name for the release stage of one model x variant."""
    return f"release@{model}-{variant}"


def missed_gates(params: Params, layout: Layout) -> set[str]:
    """The release stages of the variants whose metrics miss their gate."""
    missed = set()
    for model in params.models:
        for name in params.variants:
            path = layout.metrics(model, name)
            if path.is_file():
                accuracy = read_json(path)["accuracy"]
                checks = check_gate(name, kind_of(accuracy), gate_of(params.gates, name), accuracy)
                if not all(c.passed for c in checks):
                    missed.add(release_stage(model, name))
    return missed


def unbuilt_stages(layout: Layout) -> list[str]:
    """The stages `dvc status` finds out of date, in its order."""
    status = subprocess.run([dvc_command(), "status", "--json"], cwd=layout.root, capture_output=True, text=True)
    if status.returncode != 0:
        lines = [line for line in status.stderr.splitlines() if line.strip()]
        raise ModelprepError("dvc.yaml", f"dvc status failed: {lines[-1] if lines else 'no output'}")
    return list(json.loads(status.stdout or "{}"))


def blocking_stages(params: Params, layout: Layout) -> list[str]:
    """The stages left unbuilt for any reason but a missed gate."""
    missed = missed_gates(params, layout)
    return [stage for stage in unbuilt_stages(layout) if stage not in missed]
