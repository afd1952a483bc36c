"""A small released package for the pin tests, made the way the release stage makes one."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.fileio import write_json
from pipeline.ipfs.car import CarWriter
from pipeline.manifest.document import CONTENT
from pipeline.package import V1, digest_files, package_content
from pipeline.params import load_params
from tests.project import REPO


def make_release(root: Path, variant: str = "v1", sizes: dict[str, int] | None = None) -> Path:
    """manifests/toy/<variant>.json for an artifact directory of random files (sizes in bytes) under `root`,
    which must be the working directory (manifests hold paths relative to it)."""
    sizes = sizes or {"model.bin": 3 * 1024 * 1024 + 12345, "config.json": 321}
    artifact = root / "build/toy" / variant
    artifact.mkdir(parents=True)
    for name, size in sizes.items():
        (artifact / name).write_bytes(os.urandom(size))
    files = {path.name: path for path in sorted(artifact.iterdir())}
    car = CarWriter(None, V1.cid_version)
    digests = digest_files(files, car.add)
    record = {"artifact": f"build/toy/{variant}", "format": "toy", "kind": "decoder", "model": "toy",
              "variant": variant, "record_version": 3,
              "files": [{"path": n, "sha256": d.sha256, "size": d.size} for n, d in digests.items()]}
    content = package_content(digests, record, car)
    manifest = root / "manifests/toy" / f"{variant}.json"
    write_json(manifest, {**record, CONTENT: content})
    return Path("manifests/toy") / f"{variant}.json"


def pin_params(**pin):
    """The project's params with `pin` settings changed (fast retries for tests)."""
    import dataclasses

    params = load_params(REPO / "params.yaml")
    retry = dataclasses.replace(params.pin.retry, backoff_s=0.01, max_backoff_s=0.05, timeout_s=10.0)
    targets = {**params.pin.targets, **{name: dataclasses.replace(params.pin.targets[name], **values)
                                        for name, values in pin.items()}}
    return dataclasses.replace(params, pin=dataclasses.replace(params.pin, retry=retry, targets=targets))


def verify_remotely(params, manifest: Path, **options):
    """`modelprep verify --remote` on `manifest`, as the command runs it."""
    from pipeline.manifest.document import Manifest
    from pipeline.verify import verify_remote

    return verify_remote(params.pin, Manifest.load(manifest), **options)
