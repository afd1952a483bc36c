"""`manifests/<model>/<variant>.pins.json`: where a released package is pinned.

Pins live beside the manifest, not in it: the manifest is a DVC output that a rebuild rewrites
byte for byte, while a pin is a side effect on a network that only `modelprep pin` changes. One
entry per (target, endpoint); an entry for another package CID (the variant was rebuilt with
different bytes) no longer describes this release and is dropped when the file is next written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError
from pipeline.fileio import read_json, write_json
from pipeline.manifest.document import sidecar
from pipeline.package import Release
from pipeline.pin.base import Pin


def pins_path(manifest: Path) -> Path:
    return sidecar(manifest, "pins")


def read_pins(manifest: Path) -> list[Pin]:
    """Every pin recorded for the manifest's variant, whatever its package CID."""
    path = pins_path(manifest)
    if not path.is_file():
        return []
    data = read_json(path)
    try:
        return [Pin(**entry) for entry in data["pins"]]
    except (KeyError, TypeError) as err:
        raise ModelprepError(path, f"not a pins file: {err}") from None


def current_pins(release: Release) -> list[Pin]:
    return [pin for pin in read_pins(release.manifest) if pin.cid == release.cid_v1]


def record_pin(release: Release, pin: Pin) -> Path:
    kept = [p for p in current_pins(release) if (p.target, p.endpoint) != (pin.target, pin.endpoint)]
    pins = sorted([*kept, pin], key=lambda p: (p.target, p.endpoint))
    path = pins_path(release.manifest)
    document: dict[str, Any] = {"model": release.model, "variant": release.variant,
                                "package_cid_v1": release.cid_v1, "pins": [p.as_dict() for p in pins]}
    write_json(path, document)
    return path
