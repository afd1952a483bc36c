"""What a model kind means for every display: its accuracy figures, gate bounds, speed figures and chart.

Decoders are scored by KL divergence against the reference's next-token distributions, encoders
by the cosine of pooled embeddings; the release table, the HTML page, `modelprep match`, the plot
data and the gates all word and rank them through this table, so a figure reads the same
everywhere.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bound:
    """One bound a gate in params.yaml may set."""

    field: str  # the key under gates.<variant>
    metric: str  # the key in the metrics file
    upper: bool  # True: measured must be <= bound; False: >= bound
    label: str


class ModelKind(ABC):
    """One kind of model: the figures it is scored by and how every display words them."""

    name: str
    bounds: tuple[Bound, ...]  # what gates.<variant> may bound for this kind
    loss_metric: str  # the size-accuracy plot's y axis, lower is better
    accuracy_headers: tuple[str, ...]  # the HTML page's accuracy columns
    chart_log_scale: bool  # the HTML chart's accuracy axis: logarithmic or linear
    chart_title: str
    chart_metric: str
    rate_unit: str  # the unit of `rate`

    @abstractmethod
    def accuracy_text(self, a: dict[str, Any]) -> str:
        """The release table's accuracy column."""

    @abstractmethod
    def accuracy_brief(self, a: dict[str, Any]) -> str:
        """One figure, for lists of many variants (`modelprep match`)."""

    @abstractmethod
    def accuracy_cells(self, a: dict[str, Any]) -> list[str]:
        """The HTML page's accuracy cells, under `accuracy_headers`."""

    @abstractmethod
    def loss(self, a: dict[str, Any]) -> float:
        """Accuracy lost against the reference, lower is better."""

    @abstractmethod
    def chart_value(self, a: dict[str, Any]) -> float:
        """The figure the HTML chart plots against size."""

    @abstractmethod
    def chart_value_text(self, value: float) -> str:
        """A chart value as its point's tooltip shows it."""

    @abstractmethod
    def speed(self, figures: dict[str, Any]) -> tuple[str, str]:
        """The headline rate and latency of a performance record, as text."""

    @abstractmethod
    def rate(self, figures: dict[str, Any]) -> float:
        """The headline rate of a performance record, for ratios."""


class Decoder(ModelKind):
    name = "decoder"
    bounds = (Bound("max_mean_kld", "mean_kld", True, "mean KL divergence"),
              Bound("min_same_top1", "same_top1", False, "same-top-1 rate"),
              Bound("max_delta_ppl_pct", "delta_ppl_pct", True, "perplexity change (%)"))
    loss_metric = "mean KLD"
    accuracy_headers = ("mean KLD", "same top-1", "perplexity change")
    chart_log_scale, chart_metric = True, "mean KLD"
    chart_title = "mean KL divergence (log scale, lower is better)"
    rate_unit = "tok/s"

    def accuracy_text(self, a):
        return (f"KLD {a['mean_kld']:.3g}  top1 {100 * a['same_top1']:.1f}%  "
                f"PPL {a['perplexity']:.2f} ({a['delta_ppl_pct']:+.2f}%)")

    def accuracy_brief(self, a):
        return f"KLD {a['mean_kld']:.4g}"

    def accuracy_cells(self, a):
        return [f"{a['mean_kld']:.3g}", f"{100 * a['same_top1']:.1f}%", f"{a['delta_ppl_pct']:+.2f}%"]

    def loss(self, a):
        return a["mean_kld"]

    def chart_value(self, a):
        return a["mean_kld"]

    def chart_value_text(self, value):
        return f"{value:.3g}"

    def speed(self, figures):
        return f"{figures['decode_tokens_per_s']:.0f} tok/s", f"first token {figures['first_token_ms']:.2f} ms"

    def rate(self, figures):
        return figures["decode_tokens_per_s"]


class Encoder(ModelKind):
    name = "encoder"
    bounds = (Bound("min_mean_cosine", "mean_cosine", False, "mean cosine similarity"),
              Bound("min_min_cosine", "min_cosine", False, "minimum cosine similarity"))
    loss_metric = "1 - mean cosine"
    accuracy_headers = ("mean cosine", "min cosine")
    chart_log_scale, chart_metric = False, "mean cosine"
    chart_title = "mean cosine (higher is better)"
    rate_unit = "sent/s"

    def accuracy_text(self, a):
        return f"cos mean {a['mean_cosine']:.5f} min {a['min_cosine']:.5f}"

    def accuracy_brief(self, a):
        return f"cos {a['mean_cosine']:.4f}"

    def accuracy_cells(self, a):
        return [f"{a['mean_cosine']:.5f}", f"{a['min_cosine']:.5f}"]

    def loss(self, a):
        return round(1 - a["mean_cosine"], 9)

    def chart_value(self, a):
        return a["mean_cosine"]

    def chart_value_text(self, value):
        return f"{value:.5f}"

    def speed(self, figures):
        return f"{figures['sentences_per_s']:.0f} sent/s", f"one sentence {figures['sentence_ms']:.2f} ms"

    def rate(self, figures):
        return figures["sentences_per_s"]


DECODER, ENCODER = Decoder(), Encoder()
KINDS: dict[str, ModelKind] = {k.name: k for k in (DECODER, ENCODER)}


def kind_named(name: str) -> ModelKind:
    return KINDS[name]


def kind_of(accuracy: dict[str, Any]) -> ModelKind:
    """The kind whose figures an accuracy record holds."""
    return DECODER if "mean_kld" in accuracy else ENCODER
