"""Accuracy gates: which measured figure each bound in params.yaml `gates` limits."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ModelprepError
from pipeline.params import Gate


@dataclass(frozen=True)
class Bound:
    field: str  # the key under gates.<variant> in params.yaml
    metric: str  # the key in the metrics file
    kind: str  # decoder or encoder: the models it applies to
    upper: bool  # True: measured must be <= bound; False: >= bound
    label: str


BOUNDS = (
    Bound("max_mean_kld", "mean_kld", "decoder", True, "mean KL divergence"),
    Bound("min_same_top1", "same_top1", "decoder", False, "same-top-1 rate"),
    Bound("max_delta_ppl_pct", "delta_ppl_pct", "decoder", True, "perplexity change (%)"),
    Bound("min_mean_cosine", "mean_cosine", "encoder", False, "mean cosine similarity"),
    Bound("min_min_cosine", "min_cosine", "encoder", False, "minimum cosine similarity"),
)


@dataclass(frozen=True)
class Check:
    bound: Bound
    limit: float
    measured: float

    @property
    def passed(self) -> bool:
        return self.measured <= self.limit if self.bound.upper else self.measured >= self.limit

    def short(self) -> str:
        return f"{self.bound.metric} {self.measured:g} {'>' if self.bound.upper else '<'} {self.limit:g}"

    def describe(self) -> str:
        relation = "at most" if self.bound.upper else "at least"
        verdict = "passes" if self.passed else "FAILS"
        gate = f"({relation} {self.limit:g}, {self.bound.field})"
        return f"{self.bound.label} {self.measured:g} {verdict} the gate {gate}"


def kind_of(accuracy: dict[str, Any]) -> str:
    """decoder or encoder, from which figures a metrics file holds."""
    return "decoder" if "mean_kld" in accuracy else "encoder"


def check_gate(variant: str, kind: str, gate: Gate, metrics: dict[str, Any]) -> list[Check]:
    checks = [Check(b, getattr(gate, b.field), float(metrics[b.metric]))
              for b in BOUNDS if b.kind == kind and getattr(gate, b.field) is not None]
    if not checks:
        fields = ", ".join(b.field for b in BOUNDS if b.kind == kind)
        raise ModelprepError("params.yaml", f"gates.{variant} sets no bound that applies to a {kind} ({fields})")
    return checks


def gate_dict(gate: Gate, kind: str) -> dict[str, float]:
    """The bounds of a gate that apply to this kind of model, for the record."""
    kinds = {b.field: b.kind for b in BOUNDS}
    return {k: v for k, v in dataclasses.asdict(gate).items() if v is not None and kinds[k] == kind}
