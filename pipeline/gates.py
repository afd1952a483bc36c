"""Accuracy gates: params.yaml `gates`, one per variant, and which measured figure each bound limits.

The bounds a gate may set are the model kinds' (`pipeline/kinds.py`): a gate names bounds for
decoders and encoders alike, and a variant is held to those of its model's kind.
"""

from __future__ import annotations

from dataclasses import asdict, field, make_dataclass
from typing import Any

from pipeline.checks import Check
from pipeline.errors import ModelprepError
from pipeline.kinds import KINDS, Bound, ModelKind
from pipeline.settings import Reader

# Accuracy a variant must reach to be released: one optional field per bound of every kind (a bound
# left out is not checked).
Gate = make_dataclass("Gate", [(b.field, float | None, field(default=None))
                               for kind in KINDS.values() for b in kind.bounds], frozen=True)


def read_gates(r: Reader, data: Any, where: str) -> dict[str, Any]:
    data = r.mapping(data, where)
    return {variant: r.section(entry, f"{where}.{variant}", Gate) for variant, entry in data.items()}


def gate_of(gates: dict[str, Any], variant: str) -> Any:
    if variant not in gates:
        raise ModelprepError("params.yaml", f"variant {variant} has no entry under 'gates'")
    return gates[variant]


def bound_check(bound: Bound, limit: float, measured: float) -> Check:
    """Whether one measured figure keeps one bound, worded for the release log and table."""
    passed = measured <= limit if bound.upper else measured >= limit
    relation = "at most" if bound.upper else "at least"
    return Check(bound.label, passed, f"{measured:g} {'passes' if passed else 'FAILS'} the gate "
                                      f"({relation} {limit:g}, {bound.field})",
                 brief=f"{bound.metric} {measured:g} {'>' if bound.upper else '<'} {limit:g}")


def check_gate(variant: str, kind: ModelKind, gate: Any, metrics: dict[str, Any]) -> list[Check]:
    checks = [bound_check(b, getattr(gate, b.field), float(metrics[b.metric]))
              for b in kind.bounds if getattr(gate, b.field) is not None]
    if not checks:
        fields = ", ".join(b.field for b in kind.bounds)
        raise ModelprepError("params.yaml", f"gates.{variant} sets no bound that applies to a {kind.name} ({fields})")
    return checks


def gate_dict(gate: Any, kind: ModelKind) -> dict[str, float]:
    """The bounds of a gate that apply to this kind of model, for the record."""
    fields = {b.field for b in kind.bounds}
    return {k: v for k, v in asdict(gate).items() if v is not None and k in fields}

