"""The pin targets, by name, and params.yaml `pin`: adding a target is one module and one entry here.

Each target class has a `name`, reads its own params.yaml section (`pin.<name>`, `read_settings`;
None when it has none), and is built from that section, the retry policy every target shares, the
credential file the user named (or None: then its environment variable), and optionally another
endpoint (verify uses the one a pin was recorded at).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.pin.arweave import Arweave
from pipeline.pin.base import PinTarget
from pipeline.pin.car import CarFiles
from pipeline.pin.http import RetrySpec
from pipeline.pin.kubo import Kubo
from pipeline.pin.oci import OciRegistry
from pipeline.pin.psa import PinningService
from pipeline.settings import Reader

TARGETS = {target.name: target for target in (CarFiles, Kubo, PinningService, Arweave, OciRegistry)}


@dataclass(frozen=True)
class PinSpec:
    """params.yaml `pin`: the default target, the retry policy, and each target's own settings."""

    target: str
    retry: RetrySpec
    targets: dict[str, Any]  # target name -> its section, for targets that have one


def read_pin_spec(r: Reader, data: Any, where: str) -> PinSpec:
    data = r.mapping(data, where)
    sections = [name for name, target in TARGETS.items() if target.read_settings]
    r.no_extra(data, {"target", "retry", *sections}, where)
    return PinSpec(
        target=r.choice(data, "target", where, tuple(TARGETS)),
        retry=r.section(r.get(data, "retry", dict, where), f"{where}.retry", RetrySpec),
        targets={name: TARGETS[name].read_settings(r, r.get(data, name, dict, where), f"{where}.{name}")
                 for name in sections})


def make_target(name: str, spec: PinSpec, secret_file: Path | None = None, endpoint: str | None = None) -> PinTarget:
    return TARGETS[name](spec.targets.get(name), spec.retry, secret_file, endpoint)
