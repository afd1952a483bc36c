"""The release table `make release` ends with, and the per-model plot data DVC draws.

The table puts every format side by side: size, accuracy against the fp32 reference, and speed
and memory on the build device (from each variant's performance record, when it has one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.fileio import read_json, write_json
from pipeline.gates import check_gate, kind_of
from pipeline.params import Params
from pipeline.performance import summary
from pipeline.progress import human_bytes

METRICS_DIR = Path("metrics")
MANIFESTS_DIR = Path("manifests")
BUILD_DIR = Path("build")


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


def _accuracy_text(kind: str, accuracy: dict) -> str:
    if kind == "decoder":
        return (f"KLD {accuracy['mean_kld']:.3g}  top1 {100 * accuracy['same_top1']:.1f}%  "
                f"PPL {accuracy['perplexity']:.2f} ({accuracy['delta_ppl_pct']:+.2f}%)")
    return f"cos mean {accuracy['mean_cosine']:.5f} min {accuracy['min_cosine']:.5f}"


def _speed_text(performance: dict) -> str:
    rate, latency = summary(performance)
    return f"{rate}, {latency} ({performance['runtime']['device'].split(':', 1)[0]})"


def release_rows(params: Params, root: Path) -> list[Row]:
    rows = []
    for model in params.models:
        for variant in params.variants:
            fmt = params.format_of(variant)
            metrics_path = root / METRICS_DIR / model / f"{variant}.json"
            manifest = root / MANIFESTS_DIR / model / f"{variant}.json"
            performance_path = root / BUILD_DIR / model / "performance" / f"{variant}.json"
            if not metrics_path.is_file():
                rows.append(Row(model, variant, fmt, "-", "-", "not measured", "-", "-", "MISSING", "-"))
                continue
            metrics = read_json(metrics_path)
            kind = kind_of(metrics["accuracy"])
            checks = check_gate(variant, kind, params.gate(variant), metrics["accuracy"])
            passed = all(c.passed for c in checks)
            if passed and manifest.is_file():
                gate, output = "PASS", read_json(manifest)["artifact"]
            elif passed:
                gate, output = "PASS", "not released yet"
            else:
                gate, output = "FAIL", "not released: " + ", ".join(c.short() for c in checks if not c.passed)
            performance = read_json(performance_path) if performance_path.is_file() else None
            rows.append(Row(model, variant, fmt, human_bytes(metrics["size"]["bytes"]),
                            f"{metrics['size']['bits_per_weight']:.2f}", _accuracy_text(kind, metrics["accuracy"]),
                            _speed_text(performance) if performance else "not measured",
                            human_bytes(performance["peak_rss_bytes"]) if performance else "-", gate, output))
    return rows


def format_table(rows: list[Row]) -> str:
    header = Row("model", "variant", "format", "size", "bpw", "accuracy vs fp32 reference", "speed (device)",
                 "peak RSS", "gate", "output")
    table = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in table) for f in Row.__dataclass_fields__]
    lines = ["  ".join(v.ljust(w) for v, w in zip(vars(r).values(), widths, strict=True)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_plot_data(model: str, variants: tuple[str, ...], metrics_dir: Path, out: Path) -> None:
    """Size against accuracy loss for every variant of one model: mean KLD, or 1 - mean cosine."""
    rows = []
    for variant in variants:
        metrics = read_json(metrics_dir / f"{variant}.json")
        accuracy = metrics["accuracy"]
        decoder = kind_of(accuracy) == "decoder"
        rows.append({
            "variant": variant,
            "size_mib": round(metrics["size"]["bytes"] / 2**20, 3),
            "accuracy_loss": accuracy["mean_kld"] if decoder else round(1 - accuracy["mean_cosine"], 9),
            "loss_metric": "mean KLD" if decoder else "1 - mean cosine",
        })
    write_json(out, rows)
