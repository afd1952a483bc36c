"""`manifests/<model>/<variant>.measured.json`: a released package's speed and memory on each machine
that measured it (`modelprep measure`), checked against `manifests/schema/measured.json`.

Figures live beside the manifest, as pins do, not in it nor in any DVC output: they vary run to run
and machine to machine, while a rebuild of the same inputs must give the same manifest, signature
and dvc.lock. One entry per host; entries of another package CID (the variant was rebuilt with
different bytes) describe nothing released and are dropped when the file is next written.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from pipeline.device import cuda_available, describe
from pipeline.errors import ModelprepError
from pipeline.fileio import read_json, write_json
from pipeline.layout import REPO
from pipeline.manifest.document import Manifest, sidecar


def host() -> str:
    """This machine as its entries name it: its CPU, and its GPU where one is visible."""
    return describe("cpu") + (f", {describe('cuda')}" if cuda_available() else "")


def measured_path(manifest: Path) -> Path:
    return sidecar(manifest, "measured")


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads((REPO.schema / "measured.json").read_text(encoding="utf-8")))


def _check(document: Any, where: Path) -> None:
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        at = ".".join(map(str, errors[0].absolute_path)) or "(top level)"
        raise ModelprepError(where, f"not a measured-figures file: {at}: {errors[0].message}")


def measurements(manifest: Manifest) -> list[dict[str, Any]]:
    """The figures of the manifest's package, one entry per host that measured it, sorted by host."""
    path = measured_path(manifest.path)
    if not path.is_file():
        return []
    document = read_json(path)
    _check(document, path)
    return document["measured"] if document["package_cid_v1"] == manifest.content.cid_v1 else []


def this_host(manifest: Manifest) -> dict[str, Any] | None:
    """This machine's figures of the manifest's package, if it measured them."""
    here = host()
    return next((e for e in measurements(manifest) if e["host"] == here), None)


def record_measurement(manifest: Manifest, entry: dict[str, Any]) -> Path:
    """Write `entry` as its host's figures of the manifest's package, replacing that host's older ones."""
    kept = [e for e in measurements(manifest) if e["host"] != entry["host"]]
    path = measured_path(manifest.path)
    document = {"measured": sorted([*kept, entry], key=lambda e: e["host"]), "model": manifest.model,
                "package_cid_v1": manifest.content.cid_v1, "variant": manifest.variant}
    _check(document, path)
    write_json(path, document)
    return path
