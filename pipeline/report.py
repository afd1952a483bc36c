"""The release table `make release` ends with.

The table puts every format side by side: size, accuracy against the fp32 reference, and speed
and memory on this machine (its entry in each released variant's measured file, when it has one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.fileio import read_json
from pipeline.gates import check_gate, gate_of
from pipeline.kinds import kind_of
from pipeline.layout import Layout
from pipeline.manifest.document import Manifest
from pipeline.measured import this_host
from pipeline.progress import human_bytes

if TYPE_CHECKING:
    from pipeline.params import Params


@dataclass(frozen=True)
class Row:
    model: str
    variant: str
    format: str
    size: str
    bits: str
    accuracy: str
    speed: str
    memory: str
    gate: str
    output: str


def release_rows(params: Params, layout: Layout) -> list[Row]:
    rows = []
    for model in params.models:
        for variant in params.variants.values():
            name, fmt = variant.name, variant.format.name
            metrics_path, manifest = layout.metrics(model, name), layout.manifest(model, name)
            if not metrics_path.is_file():
                rows.append(Row(model, name, fmt, "-", "-", "not measured", "-", "-", "MISSING", "-"))
                continue
            metrics = read_json(metrics_path)
            kind = kind_of(metrics["accuracy"])
            checks = check_gate(name, kind, gate_of(params.gates, name), metrics["accuracy"])
            passed = all(c.passed for c in checks)
            measured = None
            if passed and manifest.is_file():
                document = Manifest.load(manifest)
                gate, output, measured = "PASS", document.artifact.as_posix(), this_host(document)
            elif passed:
                gate, output = "PASS", "not released yet"
            else:
                gate, output = "FAIL", "not released: " + ", ".join(c.brief for c in checks if not c.passed)
            speed, memory = "not measured here", "-"
            if measured:
                rate, latency = kind.speed(measured["performance"])
                speed = f"{rate}, {latency} ({measured['device'].split(':', 1)[0]})"
                memory = human_bytes(measured["performance"]["peak_rss_bytes"])
            rows.append(Row(model, name, fmt, human_bytes(metrics["size"]["bytes"]),
                            f"{metrics['size']['bits_per_weight']:.2f}", kind.accuracy_text(metrics["accuracy"]),
                            speed, memory, gate, output))
    return rows


def format_table(rows: list[Row]) -> str:
    header = Row("model", "variant", "format", "size", "bpw", "accuracy vs fp32 reference", "speed (device)",
                 "peak RSS", "gate", "output")
    table = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in table) for f in Row.__dataclass_fields__]
    lines = ["  ".join(v.ljust(w) for v, w in zip(vars(r).values(), widths, strict=True)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
