"""`modelprep verify MANIFEST`: the local package against everything its manifest records.

Every file of the variant is re-hashed (sha256) and re-added (CIDv1 and CIDv0), the package CIDs are
rebuilt from those files and the record, and the CAR file is re-hashed block by block. With
`--remote`, every file is read back from where it is pinned (or from an IPFS gateway) and re-hashed
the same way. One flipped byte anywhere fails, naming the file.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline.checks import Check
from pipeline.errors import ModelprepError
from pipeline.fileio import sha256_file
from pipeline.ipfs.car import verify_car
from pipeline.ipfs.directory import add_stream
from pipeline.manifest.document import CarFile, Manifest
from pipeline.manifest.schema import validation_errors
from pipeline.manifest.signing import check_signature
from pipeline.package import V0, V1, Release, artifact_files, package_dag
from pipeline.pin.gateway import Gateway
from pipeline.pin.pins_file import current_pins
from pipeline.pin.targets import PinSpec, make_target
from pipeline.progress import log


def verify_manifest(manifest: Manifest) -> list[Check]:
    return document_checks(manifest) + content_checks(manifest)


def document_checks(manifest: Manifest) -> list[Check]:
    """The manifest itself: its schema and its signature."""
    problems = validation_errors(manifest.data)
    return [Check("schema", not problems, problems[0] if problems else
                  f"valid against manifests/schema/{manifest.record_version}.json"),
            Check("signature", *check_signature(manifest))]


def content_checks(manifest: Manifest) -> list[Check]:
    """The local build against the manifest: every file's sha256 and CIDs, the package CIDs and the CAR."""
    files, content = artifact_files(manifest), manifest.content
    checks = []
    for entry in manifest.files:
        path = files[entry.path]
        sha256, size = sha256_file(path), path.stat().st_size
        ok = sha256 == entry.sha256 and size == entry.size
        detail = "sha256 and size match" if ok else f"sha256 {sha256} ({size} bytes), recorded {entry.sha256}"
        checks.append(Check(f"{entry.path} ({path})", ok, detail))
    for profile, key in ((V1, "cid_v1"), (V0, "cid_v0")):
        root, nodes = package_dag(files, manifest.record, profile)
        for name, node in sorted(nodes.items()):
            recorded = content.files[name][key]
            checks.append(Check(f"{name} {key}", str(node.cid) == recorded,
                                f"{node.cid}" + ("" if str(node.cid) == recorded else f", recorded {recorded}")))
        recorded = getattr(content, key)
        checks.append(Check(f"package {key}", str(root.cid) == recorded,
                            f"{root.cid}" + ("" if str(root.cid) == recorded else f", recorded {recorded}")))
    checks.append(_check_car(content.car, content.cid_v1))
    return checks


def _check_car(car: CarFile, package_cid: str) -> Check:
    item = car.path.as_posix()
    if not car.path.is_file():
        return Check(item, False, "CAR file missing here")
    if sha256_file(car.path) != car.sha256:
        return Check(item, False, "CAR file's sha256 differs from the recorded one")
    try:
        root, blocks = verify_car(car.path)
    except ModelprepError as err:
        return Check(item, False, str(err))
    return Check(item, str(root) == package_cid, f"{blocks} blocks re-hashed, root {root}")


class _ChunkReader(io.RawIOBase):
    """A stream over an iterator of byte chunks, hashing (sha256) and counting what passes through."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks, self.buffer = chunks, b""
        self.sha256, self.size = hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        out, self.buffer = (self.buffer, b"") if size < 0 else (self.buffer[:size], self.buffer[size:])
        self.sha256.update(out)
        self.size += len(out)
        return out


def _check_remote(release: Release, source: str, open_file: Callable[[str], Iterator[bytes]]) -> list[Check]:
    checks = []
    for entry in release.files:
        reader = _ChunkReader(open_file(entry.name))
        cid = str(add_stream(reader, V1).cid)
        sha256 = reader.sha256.hexdigest()
        ok = (sha256, reader.size, cid) == (entry.sha256, entry.size, entry.cid_v1)
        detail = ("sha256, size and CIDv1 match" if ok else
                  f"came back as {reader.size} bytes, sha256 {sha256}, CIDv1 {cid}; recorded {entry.size} bytes, "
                  f"sha256 {entry.sha256}, CIDv1 {entry.cid_v1}")
        checks.append(Check(f"{entry.name} from {source}", ok, detail))
    return checks


def verify_remote(spec: PinSpec, manifest: Manifest, target: str | None = None, gateway: str | None = None,
                  secret_file: Path | None = None) -> list[Check]:
    """Every package file read back from a gateway, or from each target the package is recorded pinned at."""
    release = Release.of(manifest, need_local_files=False)
    if gateway:
        reader = Gateway(gateway, spec.retry)
        log("verify", f"{release.label}: reading {release.cid_v1} back from {gateway}")
        return _check_remote(release, gateway, lambda name: reader.open_file(release.cid_v1, name))
    pins = [p for p in current_pins(release) if target in (None, p.target)]
    if not pins:
        raise ModelprepError(manifest.path, f"{release.label} {release.cid_v1} has no recorded pin"
                                            f"{' at ' + target if target else ''} (manifests/…/*.pins.json); "
                                            "pin it first, or name an IPFS gateway with --gateway URL")
    checks = []
    for pin in pins:
        source = make_target(pin.target, spec, secret_file, pin.endpoint)
        log("verify", f"{release.label}: reading {pin.cid} back from {pin.target} {pin.endpoint}")
        checks += _check_remote(release, f"{pin.target} {pin.endpoint}",
                                lambda name, source=source, pin=pin: source.open_file(pin, release, name))
    return checks
