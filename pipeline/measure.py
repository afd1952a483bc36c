"""`modelprep measure`: every released variant's speed and memory on this machine.

Each variant runs the fixed workload of params.yaml `performance` in a process of its own
(`performance.py`), and its peak memory is set beside the memory estimate for that workload. The
figures go to the variant's measured file (`measured.py`), one entry per host, never into the
manifest: a rebuild of the same inputs gives the same manifest and signature on any machine. A
variant this host already measured, for the same package and workload, is not measured again, so a
rebuild that reproduces the same bytes leaves its measured files as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.fileio import read_json
from pipeline.hardware.memory import measured_memory
from pipeline.index import released_manifests
from pipeline.kinds import ModelKind
from pipeline.layout import Layout
from pipeline.manifest.document import Manifest
from pipeline.measured import host, measurements, record_measurement
from pipeline.performance import measure_in_child
from pipeline.progress import StepProgress

if TYPE_CHECKING:
    from pipeline.params import Params


@dataclass(frozen=True)
class Measured:
    manifest: Path
    kind: ModelKind
    entry: dict[str, Any]
    fresh: bool  # False: this host's figures of this package and workload were already there


def settings_of(params: Params) -> dict[str, Any]:
    """What an entry's figures depend on besides the package and the host; another workload is measured anew."""
    return {"device": params.evaluation.device, "threads": params.evaluation.threads,
            **asdict(params.performance)}


def measure_released(params: Params, layout: Layout) -> Iterator[Measured]:
    here, settings = host(), settings_of(params)
    paths = released_manifests(params, layout)
    progress = StepProgress("measure", f"on {here}", len(paths), "variants", interval=0.0)
    for path in paths:
        manifest = Manifest.load(path)
        known = next((e for e in measurements(manifest) if e["host"] == here and e["settings"] == settings), None)
        if known:
            measured = Measured(path, manifest.kind, known, False)
        else:
            entry = {"host": here, "settings": settings, **_measure(params, layout, manifest)}
            record_measurement(manifest, entry)
            measured = Measured(path, manifest.kind, entry, True)
        progress.advance(note=f" ({manifest.model} {manifest.variant}{'' if measured.fresh else ': already measured'})")
        yield measured


def _measure(params: Params, layout: Layout, manifest: Manifest) -> dict[str, Any]:
    fmt, artifact = params.variant(manifest.variant).format, layout.artifact(manifest.model, manifest.variant)
    figures = measure_in_child(fmt.name, artifact, layout.reference(manifest.model), params.evaluation,
                               params.performance)
    weights = read_json(layout.metrics(manifest.model, manifest.variant))["size"]["bytes"]
    memory = measured_memory(fmt.memory, manifest.kind.name, manifest["architecture"], weights, figures,
                             params.evaluation, params.performance, artifact, manifest.path)
    performance = {k: v for k, v in figures.items() if k not in ("runtime", "threads", "repeats")}
    return {"device": figures["runtime"]["device"], "memory": memory, "performance": performance,
            "runtime": figures["runtime"]["runtime"]}
