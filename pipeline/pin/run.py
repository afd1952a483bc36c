"""`modelprep pin` (and `make release PIN=...`): every released package to one target, recorded.

Each package is pinned and confirmed by its target, then its pins file is rewritten at once, so an
interrupted run keeps what it finished and a re-run skips what is already pinned.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import ModelprepError
from pipeline.index import released_manifests
from pipeline.layout import Layout
from pipeline.manifest.document import Manifest
from pipeline.package import Release
from pipeline.pin.base import STAGE, Pin
from pipeline.pin.pins_file import current_pins, record_pin
from pipeline.pin.targets import make_target
from pipeline.progress import log

if TYPE_CHECKING:
    from pipeline.params import Params


def pin_releases(params: Params, target_name: str, manifests: list[Path] | None = None,
                 secret_file: Path | None = None, endpoint: str | None = None) -> list[Pin]:
    paths = manifests if manifests is not None else released_manifests(params, Layout())
    if not paths:
        raise ModelprepError("manifests", "no released variant to pin; run `make release` first")
    target = make_target(target_name, params.pin, secret_file, endpoint)
    pins = []
    for path in paths:
        release = Release.of(Manifest.load(path))
        previous = next((p for p in current_pins(release)
                         if (p.target, p.endpoint) == (target.name, target.endpoint)), None)
        pin = target.pin(release, previous)
        if pin is None:
            continue
        log(STAGE, f"{release.label}: {pin.status} at {pin.target} {pin.endpoint}: {pin.detail}; "
                   f"recorded in {record_pin(release, pin)}")
        pins.append(pin)
    return pins
