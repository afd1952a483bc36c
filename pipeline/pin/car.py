"""Target `car`, the default: every package's CAR is written beside its build (the release stage
recorded its CIDs and size; the CAR is written here, from the package's files, so it is stored only
where someone asks for it); nothing is sent to any network, and the output says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.package import Release
from pipeline.pin.base import STAGE, Pin
from pipeline.pin.http import RetrySpec
from pipeline.progress import log


class CarFiles:
    name = "car"
    endpoint = ""

    read_settings = None  # no params.yaml section

    def __init__(self, settings: None, retry: RetrySpec, secret_file: Path | None = None,
                 endpoint: str | None = None):
        """Nothing to configure: no network, no credential (the arguments are every target's)."""

    def pin(self, release: Release, previous: Pin | None) -> Pin | None:
        car = release.ensure_car()
        log(STAGE, f"{release.label}: NOT pinned to any network; package {release.cid_v1} is in {car} "
                   "(import it with `ipfs dag import`, or pin with PIN=kubo, psa or arweave)")
        return None

    def open_file(self, pin: Pin, release: Release, name: str) -> Iterator[bytes]:
        raise ModelprepError(release.manifest, "target car holds nothing remote; verify the local files instead")
