"""Per-model plot data for `dvc plots show`: size against accuracy loss for every variant."""

from __future__ import annotations

from pipeline.fileio import read_json, write_json
from pipeline.kinds import kind_of
from pipeline.layout import Layout


def write_plot_data(model: str, variants: tuple[str, ...], layout: Layout) -> None:
    """Size against accuracy loss for every variant of one model: mean KLD, or 1 - mean cosine."""
    rows = []
    for variant in variants:
        metrics = read_json(layout.metrics(model, variant))
        kind = kind_of(metrics["accuracy"])
        rows.append({"accuracy_loss": kind.loss(metrics["accuracy"]), "loss_metric": kind.loss_metric,
                     "size_mib": round(metrics["size"]["bytes"] / 2**20, 3), "variant": variant})
    write_json(layout.plot(model), rows)
