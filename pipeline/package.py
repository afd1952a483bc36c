"""Release packages: a variant's files and its release record, as one content-addressed directory.

The package is the directory `ipfs add -r` would see: the artifact's files under fixed names (the
GGUF file, or every file of the ONNX directory) and `modelprep.json`, the release record. It is
never copied on disk: its DAG is built from the files where they are, and its blocks go to a CAR
file (CIDv1, profile unixfs-v1-2025). The manifest in `manifests/` is that record plus a `content`
block: the package's and every file's CIDv1 and CIDv0 and the CAR; so the record inside the package
is the manifest without `content`. Where it is pinned is recorded beside it (`pin/pins_file.py`).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.fileio import atomic_path, dumps_json, sha256_file
from pipeline.ipfs.car import CarWriter
from pipeline.ipfs.directory import add_stream, directory_node
from pipeline.ipfs.layout import BlockSink, DagNode
from pipeline.ipfs.profiles import PROFILES, Profile

RECORD_FILE = "modelprep.json"
CONTENT, PROBES, MEASURED = "content", "probes", "measured"
# Manifest keys kept out of the package's record: content ids cannot be inside what they hash, and
# probes and measured figures may change (another build device) without changing the package.
MANIFEST_ONLY = (CONTENT, PROBES, MEASURED)
V1, V0 = PROFILES["unixfs-v1-2025"], PROFILES["unixfs-v0-2015"]
Opener = Callable[[], io.BufferedIOBase]


def package_files(artifact: Path, files: list[Path]) -> dict[str, Path]:
    """Package names of the artifact's files: the GGUF's own name, or paths inside the ONNX directory."""
    if artifact.is_dir():
        return {path.relative_to(artifact).as_posix(): path for path in files}
    return {artifact.name: artifact}


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
