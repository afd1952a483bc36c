"""What every pin target works on and answers: a released package, and the pin it made.

A target is one module with one class: `pin(release, previous)` makes the package retrievable from
the target and returns its Pin, confirmed from the target's own answers; `open_file(pin, name)`
streams one package file back from the target, so `verify --remote` can re-hash it. Targets are
listed in `targets.py`.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from pipeline.errors import ModelprepError
from pipeline.fileio import read_json
from pipeline.ipfs.cid import CID
from pipeline.package import CONTENT, MANIFEST_ONLY, RECORD_FILE, record_bytes

STAGE = "pin"


@dataclass(frozen=True)
class PackageFile:
    name: str  # path inside the package
    sha256: str
    size: int
    cid_v1: str
    path: Path | None  # the built file; None for the record, which exists only as `data`
    data: bytes | None = None

    def open(self) -> BinaryIO:
        return open(self.path, "rb") if self.path else io.BytesIO(self.data)


@dataclass(frozen=True)
class Release:
    """One released variant's package, as its manifest describes it."""

    model: str
    variant: str
    manifest: Path
    cid_v1: str
    cid_v0: str
    car: Path
    files: tuple[PackageFile, ...]

    @property
    def label(self) -> str:
        return f"{self.model}/{self.variant}"

    def file(self, name: str) -> PackageFile:
        return next(f for f in self.files if f.name == name)


def artifact_files(record: dict[str, Any], manifest: Path) -> dict[str, Path]:
    """The built file behind every package file the record lists; a missing one is an error."""
    artifact = Path(record["artifact"])
    files = {}
    for entry in record["files"]:
        path = artifact / entry["path"] if artifact.is_dir() else artifact
        if not path.is_file():
            raise ModelprepError(manifest, f"{path} (package file {entry['path']}) is missing here; build it first")
        files[entry["path"]] = path
    return files


def split_manifest(manifest_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A release manifest as (package record, content ids); anything else is an error naming the file."""
    manifest = read_json(manifest_path)
    if not isinstance(manifest, dict) or CONTENT not in manifest or "artifact" not in manifest:
        raise ModelprepError(manifest_path, "not a modelprep release manifest (no 'content' or 'artifact')")
    return {key: value for key, value in manifest.items() if key not in MANIFEST_ONLY}, manifest[CONTENT]


def load_release(manifest_path: Path, need_local_files: bool = True) -> Release:
    record, content = split_manifest(manifest_path)
    paths = artifact_files(record, manifest_path) if need_local_files else {}
    files = [PackageFile(entry["path"], entry["sha256"], entry["size"], content["files"][entry["path"]]["cid_v1"],
                         paths.get(entry["path"])) for entry in record["files"]]
    encoded = record_bytes(record)
    files.append(PackageFile(RECORD_FILE, hashlib.sha256(encoded).hexdigest(), len(encoded),
                             content["files"][RECORD_FILE]["cid_v1"], None, encoded))
    return Release(record["model"], record["variant"], manifest_path, content["package"]["cid_v1"],
                   content["package"]["cid_v0"], Path(content["car"]["path"]), tuple(files))


@dataclass
class Pin:
    """Where a package is pinned and what the target last said about it (one entry of a pins file)."""

    target: str
    endpoint: str  # the service's base URL, never with credentials in it
    cid: str  # the package's CIDv1 the target holds
    status: str  # pinned | pending (submitted; a re-run checks again)
    detail: str
    # Per target: the PSA request id; Arweave transaction ids per file, the path manifest's and the wallet address.
    ids: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class PinTarget(Protocol):
    name: str
    endpoint: str

    def pin(self, release: Release, previous: Pin | None) -> Pin: ...

    def open_file(self, pin: Pin, release: Release, name: str) -> Iterator[bytes]: ...


def same_content(answered: str, local: str) -> bool:
    """Whether a CID a service answered names the same block as ours (CIDv0 and v1 of one hash do)."""
    try:
        theirs, ours = CID.parse(answered), CID.parse(local)
    except ValueError:
        return False
    return (theirs.codec, theirs.digest) == (ours.codec, ours.digest)


def different_cid(where: str, answered: str, release: Release) -> ModelprepError:
    return ModelprepError(where, f"answered CID {answered} for {release.label}, but the local package is "
                                 f"{release.cid_v1}: the target holds different bytes; nothing is recorded")
