"""Withdrawn variants: what `manifests/<model>/` still holds for a variant that is no longer released.

A variant stops being released when its gate fails on a rebuild (DVC deletes the release stage's
manifest before running it) or when params.yaml no longer lists it or its model. Its signature,
package signature and provenance would go on vouching for a release that no longer exists, and a
registry reading the published folder would still match its manifest, so all of them are removed
(`make release` runs this after `dvc repro`). Pins are removed with them, but what they name stays
pinned on its network: each is reported, so that whoever owns the pin can unpin it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.index import released_manifests
from pipeline.layout import Layout
from pipeline.manifest.document import SIDECARS
from pipeline.pin.base import Pin
from pipeline.pin.pins_file import read_pins

if TYPE_CHECKING:
    from pipeline.params import Params


@dataclass(frozen=True)
class Withdrawn:
    model: str
    variant: str
    files: list[Path]
    pins: list[Pin]  # still held by their networks


def variant_of(name: str) -> str | None:
    """The variant a file of a model's manifests folder belongs to (its manifest or a sidecar), or None."""
    for suffix in SIDECARS.values():
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name.removesuffix(".json") if name.endswith(".json") else None


def published_name(key: str) -> bool:
    """Whether a path below the manifests folder (or a publish prefix) is a model's manifest or sidecar:
    `<model>/<file>.json` outside the schema folder."""
    parts = key.split("/")
    return len(parts) == 2 and parts[0] != Layout().schema.name and variant_of(parts[1]) is not None


def find_withdrawn(params: Params, layout: Layout) -> list[Withdrawn]:
    released = {(p.parent.name, p.stem) for p in released_manifests(params, layout)}
    found: dict[tuple[str, str], list[Path]] = {}
    for path in sorted(layout.manifests.glob("*/*.json")):
        name = path.relative_to(layout.manifests).as_posix()
        variant = variant_of(path.name)
        if published_name(name) and variant and (path.parent.name, variant) not in released:
            found.setdefault((path.parent.name, variant), []).append(path)
    return [Withdrawn(model, variant, files, read_pins(layout.manifest(model, variant)))
            for (model, variant), files in found.items()]


def withdraw(params: Params, layout: Layout) -> list[Withdrawn]:
    """Remove every withdrawn variant's files (and its model's folder once empty); what was removed."""
    withdrawn = find_withdrawn(params, layout)
    for entry in withdrawn:
        for path in entry.files:
            path.unlink()
        folder = layout.manifests / entry.model
        if not any(folder.iterdir()):
            folder.rmdir()
    return withdrawn


def dropped_outputs(params: Params, layout: Layout) -> list[Path]:
    """What the per-variant stages left under build/ for variants params.yaml no longer lists, of the
    models it does: DVC never deletes the outputs of a stage that is gone, and the plot stage reads the
    whole metrics folder, so a dropped variant would stay in the plot and change its inputs' hash."""
    found = []
    for model in params.models:
        files = (layout.metrics, layout.evaluation, layout.probes, layout.release_record)
        for folder in {place(model, "-").parent for place in files}:
            found += [p for p in sorted(folder.glob("*.json")) if p.stem not in params.variants]
        variants = layout.artifact(model, "-").parent
        if variants.is_dir():
            found += [p for p in sorted(variants.iterdir())
                      if p.is_dir() and not p.name.startswith(".") and p.name not in params.variants]
    return found
