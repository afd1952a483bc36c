"""Release packages: a variant's files and its release record, as one content-addressed directory.

The package is the directory `ipfs add -r` would see: the variant folder's files and
`modelprep.json`, the release record. It is never copied on disk: its DAG is built from the files
where they are. Each file is read once for its sha256 and both CIDs together (`digest_files`: the
hash and one importer per Kubo profile are fed the same bytes), and the CAR's size and block count
come from that pass too, so the CAR itself is written only when something needs it (`write_car`,
for a pin). The manifest in `manifests/` is the record plus a `content` block: the package's and
every file's CIDv1 and CIDv0 and the CAR's size; so the record inside the package is the manifest
without its manifest-only blocks. Where it is pinned is recorded beside it (`pin/pins_file.py`).
A `Release` is one released variant's package as its manifest describes it: what pin targets
upload and `verify` re-hashes.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pipeline.errors import ModelprepError
from pipeline.fileio import atomic_path, dumps_json
from pipeline.ipfs.car import CarWriter, car_roots
from pipeline.ipfs.directory import directory_node
from pipeline.ipfs.layout import BlockSink, DagNode, FileBuilder
from pipeline.ipfs.profiles import PROFILES, Profile
from pipeline.layout import Layout
from pipeline.manifest.document import Manifest
from pipeline.progress import ByteProgress

RECORD_FILE = "modelprep.json"
V1, V0 = PROFILES["unixfs-v1-2025"], PROFILES["unixfs-v0-2015"]
READ = 1 << 20  # bytes per read: each read feeds the hash and both importers


def record_bytes(record: dict[str, Any]) -> bytes:
    return dumps_json(record).encode("utf-8")


@dataclass(frozen=True)
class FileDigest:
    """One file as the package knows it, from one read: sha256, size and its node under each profile."""

    sha256: str
    size: int
    v1: DagNode
    v0: DagNode


def digest_stream(stream: BinaryIO, sink_v1: BlockSink | None = None,
                  progress: ByteProgress | None = None) -> FileDigest:
    sha256, v1, v0, size = hashlib.sha256(), FileBuilder(V1, sink_v1), FileBuilder(V0, None), 0
    while data := stream.read(READ):
        sha256.update(data)
        v1.update(data)
        v0.update(data)
        size += len(data)
        if progress:
            progress.advance(len(data))
    return FileDigest(sha256.hexdigest(), size, v1.finish(), v0.finish())


def digest_files(files: dict[str, Path], sink_v1: BlockSink | None = None, what: str = "hashing") \
        -> dict[str, FileDigest]:
    """Every file read once; CIDv1 blocks go to `sink_v1` as they are made."""
    progress = ByteProgress("package", what, sum(path.stat().st_size for path in files.values()))
    digests = {}
    for name, path in files.items():
        with open(path, "rb") as stream:
            digests[name] = digest_stream(stream, sink_v1, progress)
    progress.finish()
    return digests


def _directory(nodes: dict[str, DagNode], profile: Profile, sink: BlockSink | None) -> DagNode:
    """The directory DAG over file nodes named by package path (names with `/` are nested)."""
    children: dict[str, DagNode] = {}
    folders: dict[str, dict[str, DagNode]] = {}
    for name, node in nodes.items():
        head, _, rest = name.partition("/")
        if rest:
            folders.setdefault(head, {})[rest] = node
        else:
            children[head] = node
    for head, inner in folders.items():
        children[head] = _directory(inner, profile, sink)
    return directory_node(list(children.items()), profile, sink)


def package_roots(digests: dict[str, FileDigest], record: dict[str, Any],
                  sink_v1: BlockSink | None = None) -> tuple[dict[str, FileDigest], DagNode, DagNode]:
    """The record's digest joins the files'; (every file's digest, the package root under V1 and V0)."""
    digests = {**digests, RECORD_FILE: digest_stream(io.BytesIO(record_bytes(record)), sink_v1)}
    return (digests, _directory({n: d.v1 for n, d in digests.items()}, V1, sink_v1),
            _directory({n: d.v0 for n, d in digests.items()}, V0, None))


def package_content(digests: dict[str, FileDigest], record: dict[str, Any], car: CarWriter) -> dict[str, Any]:
    """The manifest's `content` block; `car` has counted the files' CIDv1 blocks and counts the rest."""
    digests, root_v1, root_v0 = package_roots(digests, record, car.add)
    return {
        "car": {"blocks": car.blocks, "size": car.size},
        "files": {name: {"cid_v0": str(d.v0.cid), "cid_v1": str(d.v1.cid)} for name, d in sorted(digests.items())},
        "package": {"cid_v0": str(root_v0.cid), "cid_v1": str(root_v1.cid), "record_file": RECORD_FILE,
                    "size": root_v1.tsize},
    }


def write_car(files: dict[str, Path], record: dict[str, Any], out: Path) -> tuple[str, int]:
    """The package's CAR (CIDv1 blocks), read from the files again; its root CID and block count."""
    with atomic_path(out) as tmp, open(tmp, "wb") as handle:
        writer = CarWriter(handle, V1.cid_version)
        _, root, _ = package_roots(digest_files(files, writer.add, f"CAR {out.name}"), record, writer.add)
        writer.finish(root.cid)
    return str(root.cid), writer.blocks


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
    record: dict[str, Any]
    cid_v1: str
    cid_v0: str
    car: Path  # where its CAR is written when a pin needs one
    car_size: int
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
        return cls(manifest.model, manifest.variant, manifest.path, manifest.record, content.cid_v1, content.cid_v0,
                   Layout().car(manifest.model, manifest.variant), content.car_size, tuple(files))

    def ensure_car(self) -> Path:
        """The package's CAR, written from the local files unless this package's CAR is already there."""
        if not (self.car.is_file() and self.car.stat().st_size == self.car_size and car_roots(self.car) == [
                self.cid_v1]):
            root, _ = write_car({f.name: f.path for f in self.files if f.path}, self.record, self.car)
            if root != self.cid_v1:
                raise ModelprepError(self.manifest, f"the local files give package {root}, the manifest says "
                                                    f"{self.cid_v1}: rebuild, or verify what changed")
        return self.car


def artifact_files(manifest: Manifest) -> dict[str, Path]:
    """The built file behind every package file the manifest lists; a missing one is an error."""
    files = {}
    for entry in manifest.files:
        path = manifest.artifact / entry.path
        if not path.is_file():
            raise ModelprepError(manifest.path, f"{path} (package file {entry.path}) is missing here; build it first")
        files[entry.path] = path
    return files
