"""Release packages: a variant's files and its release record, as one content-addressed directory.

The package is the directory `ipfs add -r` would see: the artifact's files under fixed names (the
GGUF file, or every file of the ONNX directory) and `modelprep.json`, the release record. It is
never copied on disk: its DAG is built from the files where they are, and its blocks go to a CAR
file (CIDv1, profile unixfs-v1-2025). The manifest in `manifests/` is that record plus a `content`
block: the package's and every file's CIDv1 and CIDv0 and the CAR; so the record inside the package
is the manifest without `content`. Where it is pinned is recorded beside it (`pin/pins_file.py`).
A `Release` is one released variant's package as its manifest describes it: what pin targets
upload and `verify` re-hashes.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pipeline.errors import ModelprepError
from pipeline.fileio import atomic_path, dumps_json, sha256_file
from pipeline.ipfs.car import CarWriter
from pipeline.ipfs.directory import add_stream, directory_node
from pipeline.ipfs.layout import BlockSink, DagNode
from pipeline.ipfs.profiles import PROFILES, Profile
from pipeline.manifest.document import Manifest

RECORD_FILE = "modelprep.json"
V1, V0 = PROFILES["unixfs-v1-2025"], PROFILES["unixfs-v0-2015"]
Opener = Callable[[], io.BufferedIOBase]


def record_bytes(record: dict[str, Any]) -> bytes:
    return dumps_json(record).encode("utf-8")


def _tree(entries: dict[str, Opener], profile: Profile, sink: BlockSink | None, nodes: dict[str, DagNode],
          prefix: str = "") -> DagNode:
    """The directory DAG of `entries` (names with `/` are nested), recording every file's node."""
    children: dict[str, DagNode] = {}
    folders: dict[str, dict[str, Opener]] = {}
    for name, opener in entries.items():
        head, _, rest = name.partition("/")
        if rest:
            folders.setdefault(head, {})[rest] = opener
        else:
            with opener() as stream:
                children[head] = add_stream(stream, profile, sink)
            nodes[prefix + head] = children[head]
    for head, inner in folders.items():
        children[head] = _tree(inner, profile, sink, nodes, f"{prefix}{head}/")
    return directory_node(list(children.items()), profile, sink)


def package_dag(files: dict[str, Path], record: dict[str, Any], profile: Profile,
                sink: BlockSink | None = None) -> tuple[DagNode, dict[str, DagNode]]:
    """The package's root node under `profile`, and the node of every file in it (by package name)."""
    encoded = record_bytes(record)
    entries: dict[str, Opener] = {name: (lambda path=path: open(path, "rb")) for name, path in files.items()}
    entries[RECORD_FILE] = lambda: io.BytesIO(encoded)
    nodes: dict[str, DagNode] = {}
    return _tree(entries, profile, sink, nodes), nodes


def package_content(files: dict[str, Path], record: dict[str, Any], car: Path, root: Path) -> dict[str, Any]:
    """CIDs of the package and its files under both profiles; writes the package's CAR (CIDv1)."""
    with atomic_path(car) as tmp, open(tmp, "wb") as handle:
        writer = CarWriter(handle, V1.cid_version)
        package_v1, nodes_v1 = package_dag(files, record, V1, writer.add)
        writer.finish(package_v1.cid)
    package_v0, nodes_v0 = package_dag(files, record, V0)
    return {
        "car": {"blocks": writer.blocks, "path": car.resolve().relative_to(root).as_posix(),
                "sha256": sha256_file(car), "size": car.stat().st_size},
        "files": {name: {"cid_v0": str(nodes_v0[name].cid), "cid_v1": str(nodes_v1[name].cid)}
                  for name in sorted(nodes_v1)},
        "package": {"cid_v0": str(package_v0.cid), "cid_v1": str(package_v1.cid), "record_file": RECORD_FILE,
                    "size": package_v1.tsize},
    }


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

    @classmethod
    def of(cls, manifest: Manifest, need_local_files: bool = True) -> Release:
        content = manifest.content
        paths = artifact_files(manifest) if need_local_files else {}
        files = [PackageFile(entry.path, entry.sha256, entry.size, content.files[entry.path]["cid_v1"],
                             paths.get(entry.path)) for entry in manifest.files]
        encoded = record_bytes(manifest.record)
        files.append(PackageFile(RECORD_FILE, hashlib.sha256(encoded).hexdigest(), len(encoded),
                                 content.files[RECORD_FILE]["cid_v1"], None, encoded))
        return cls(manifest.model, manifest.variant, manifest.path, content.cid_v1, content.cid_v0, content.car.path,
                   tuple(files))


def artifact_files(manifest: Manifest) -> dict[str, Path]:
    """The built file behind every package file the manifest lists; a missing one is an error."""
    files = {}
    for entry in manifest.files:
        path = manifest.artifact / entry.path
        if not path.is_file():
            raise ModelprepError(manifest.path, f"{path} (package file {entry.path}) is missing here; build it first")
        files[entry.path] = path
    return files
