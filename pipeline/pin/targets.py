"""The pin targets, by name: adding one is one module and one line here.

Each target is built from params.yaml's `pin` section, the credential file the user named (or
None: then its environment variable), and optionally another endpoint (verify uses the one a pin
was recorded at).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.params import PIN_TARGETS, PinSpec
from pipeline.pin.arweave import Arweave
from pipeline.pin.base import PinTarget
from pipeline.pin.car import CarFiles
from pipeline.pin.kubo import Kubo
from pipeline.pin.psa import PinningService

TARGETS = {"car": CarFiles, "kubo": Kubo, "psa": PinningService, "arweave": Arweave}
assert tuple(TARGETS) == PIN_TARGETS  # params.yaml admits exactly these names


def make_target(name: str, spec: PinSpec, secret_file: Path | None = None, endpoint: str | None = None) -> PinTarget:
    return TARGETS[name](spec, secret_file, endpoint)
