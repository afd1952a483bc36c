"""`modelprep verify MANIFEST`: the local package against everything its manifest records.

Every file of the variant is re-hashed (sha256) and re-added (CIDv1 and CIDv0), the package CIDs are
rebuilt from those files and the record, and the CAR file is re-hashed block by block. One flipped
byte anywhere fails, naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError
from pipeline.fileio import read_json, sha256_file
from pipeline.ipfs.car import verify_car
from pipeline.package import CONTENT, V0, V1, package_dag


@dataclass(frozen=True)
class Check:
    item: str
    passed: bool
    detail: str


def _local_files(record: dict[str, Any], manifest: Path) -> dict[str, Path]:
    artifact = Path(record["artifact"])
    files = {}
    for entry in record["files"]:
        path = artifact / entry["path"] if artifact.is_dir() else artifact
        if not path.is_file():
            raise ModelprepError(manifest, f"{path} (package file {entry['path']}) is missing here; build it first")
        files[entry["path"]] = path
    return files


def verify_manifest(manifest_path: Path) -> list[Check]:
    manifest = read_json(manifest_path)
    if CONTENT not in manifest or "artifact" not in manifest:
        raise ModelprepError(manifest_path, "not a modelprep release manifest (no 'content' or 'artifact')")
    record = {key: value for key, value in manifest.items() if key != CONTENT}
    content = manifest[CONTENT]
    files = _local_files(record, manifest_path)
    checks = []
    for entry in record["files"]:
        path = files[entry["path"]]
        sha256, size = sha256_file(path), path.stat().st_size
        ok = sha256 == entry["sha256"] and size == entry["size"]
        detail = "sha256 and size match" if ok else f"sha256 {sha256} ({size} bytes), recorded {entry['sha256']}"
        checks.append(Check(f"{entry['path']} ({path})", ok, detail))
    for profile, key in ((V1, "cid_v1"), (V0, "cid_v0")):
        root, nodes = package_dag(files, record, profile)
        for name, node in sorted(nodes.items()):
            recorded = content["files"][name][key]
            checks.append(Check(f"{name} {key}", str(node.cid) == recorded,
                                f"{node.cid}" + ("" if str(node.cid) == recorded else f", recorded {recorded}")))
        recorded = content["package"][key]
        checks.append(Check(f"package {key}", str(root.cid) == recorded,
                            f"{root.cid}" + ("" if str(root.cid) == recorded else f", recorded {recorded}")))
    checks.append(_check_car(content["car"], content["package"]["cid_v1"]))
    return checks


def _check_car(car: dict[str, Any], package_cid: str) -> Check:
    path = Path(car["path"])
    if not path.is_file():
        return Check(car["path"], False, "CAR file missing here")
    if sha256_file(path) != car["sha256"]:
        return Check(car["path"], False, "CAR file's sha256 differs from the recorded one")
    try:
        root, blocks = verify_car(path)
    except ModelprepError as err:
        return Check(car["path"], False, str(err))
    return Check(car["path"], str(root) == package_cid, f"{blocks} blocks re-hashed, root {root}")
