"""`modelprep collect`: `manifests/` (what git keeps and registries read) takes the release stages' manifests.

The release stage writes its manifest under build/ (`Layout.release_record`): an output git tracks
cannot be in DVC's cache, and a stage with an uncached output is never restored from the run-cache.
After `dvc repro`, each released variant's manifest is copied here when its bytes changed; a variant
whose release stage refused it (its gate failed) loses its manifest, and `modelprep withdraw` then
removes what still vouches for it. A variant the build never evaluated is an error: `make release`
checks the build (`modelprep check-build`) before this runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import ModelprepError
from pipeline.fileio import write_text
from pipeline.layout import Layout

if TYPE_CHECKING:
    from pipeline.params import Params


@dataclass(frozen=True)
class Collected:
    manifest: Path
    change: str  # "added", "updated", "unchanged" or "not released"


def collect(params: Params, layout: Layout) -> Iterator[Collected]:
    for model in params.models:
        for variant in params.variants:
            built, manifest = layout.release_record(model, variant), layout.manifest(model, variant)
            if built.is_file():
                text = built.read_text(encoding="utf-8")
                if manifest.is_file() and manifest.read_text(encoding="utf-8") == text:
                    yield Collected(manifest, "unchanged")
                    continue
                change = "updated" if manifest.is_file() else "added"
                write_text(manifest, text)
                yield Collected(manifest, change)
            elif layout.metrics(model, variant).is_file():
                manifest.unlink(missing_ok=True)
                yield Collected(manifest, "not released")
            else:
                raise ModelprepError(built, f"{model} {variant} is not built: run dvc repro (make release) first")
