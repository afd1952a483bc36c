"""`modelprep verify MANIFEST`: the local package against everything its manifest records.

Every file of the variant is re-hashed (sha256) and re-added (CIDv1 and CIDv0) in one read, the
package CIDs and its CAR's size are rebuilt from those files and the record, and a CAR written for
a pin is re-hashed block by block. With
`--remote`, every file is read back from where it is pinned (or from an IPFS gateway) and re-hashed
the same way. One flipped byte anywhere fails, naming the file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline.checks import Check
from pipeline.errors import ModelprepError
from pipeline.ipfs.car import CarWriter, verify_car
from pipeline.ipfs.layout import FileBuilder
from pipeline.layout import Layout
from pipeline.manifest.document import Manifest
from pipeline.manifest.schema import validation_errors
from pipeline.manifest.signing import check_signature
from pipeline.manifest.trust import TrustPolicy
from pipeline.openssf import check_package_signature
from pipeline.package import V1, Release, artifact_files, digest_files, package_roots
from pipeline.pin.gateway import Gateway
from pipeline.pin.pins_file import current_pins
from pipeline.pin.targets import PinSpec, make_target
from pipeline.progress import log
from pipeline.provenance import check_provenance


def verify_manifest(manifest: Manifest, policy: TrustPolicy) -> list[Check]:
    return [*document_checks(manifest, policy), *content_checks(manifest), package_signature(manifest, policy)]


def package_signature(manifest: Manifest, policy: TrustPolicy) -> Check:
    """The local package's OpenSSF model signature (openssf.py)."""
    return Check("package signature", *check_package_signature(manifest, policy))


def document_checks(manifest: Manifest, policy: TrustPolicy) -> list[Check]:
    """The manifest itself: its schema, its signature and its package's provenance, signed by keys the policy
    trusts."""
    problems = validation_errors(manifest.data)
    return [Check("schema", not problems, problems[0] if problems else
                  f"valid against manifests/schema/{manifest.record_version}.json"),
            Check("signature", *check_signature(manifest, policy)),
            Check("provenance", *check_provenance(manifest, policy))]


def _matches(item: str, found: str, recorded: str) -> Check:
    return Check(item, found == recorded, found + ("" if found == recorded else f", recorded {recorded}"))


def content_checks(manifest: Manifest) -> list[Check]:
    """The local build against the manifest: every file's sha256 and CIDs (one read each), the package CIDs,
    the CAR's size, and the CAR itself where one was written for a pin."""
    files, content = artifact_files(manifest), manifest.content
    car = CarWriter(None, V1.cid_version)
    digests, root_v1, root_v0 = package_roots(digest_files(files, car.add, f"verifying {manifest.label}"),
                                              manifest.record, car.add)
    checks = []
    for entry in manifest.files:
        found = digests[entry.path]
        ok = (found.sha256, found.size) == (entry.sha256, entry.size)
        checks.append(Check(f"{entry.path} ({files[entry.path]})", ok, "sha256 and size match" if ok else
                            f"sha256 {found.sha256} ({found.size} bytes), recorded {entry.sha256}"))
    for name, found in sorted(digests.items()):
        checks += [_matches(f"{name} cid_v1", str(found.v1.cid), content.files[name]["cid_v1"]),
                   _matches(f"{name} cid_v0", str(found.v0.cid), content.files[name]["cid_v0"])]
    checks += [_matches("package cid_v1", str(root_v1.cid), content.cid_v1),
               _matches("package cid_v0", str(root_v0.cid), content.cid_v0),
               _matches("CAR blocks and size", f"{car.blocks} blocks, {car.size} bytes",
                        f"{content.car_blocks} blocks, {content.car_size} bytes")]
    written = Layout().car(manifest.model, manifest.variant)
    if written.is_file():
        checks.append(_check_car(written, content.cid_v1))
    return checks


def _check_car(path: Path, package_cid: str) -> Check:
    try:
        root, blocks = verify_car(path)
    except ModelprepError as err:
        return Check(path.as_posix(), False, str(err))
    return Check(path.as_posix(), str(root) == package_cid, f"{blocks} blocks re-hashed, root {root}")


def _check_remote(release: Release, source: str, open_file: Callable[[str], Iterator[bytes]]) -> list[Check]:
    checks = []
    for entry in release.files:
        sha256, builder, size = hashlib.sha256(), FileBuilder(V1, None), 0
        for chunk in open_file(entry.name):
            sha256.update(chunk)
            builder.update(chunk)
            size += len(chunk)
        cid, digest = str(builder.finish().cid), sha256.hexdigest()
        ok = (digest, size, cid) == (entry.sha256, entry.size, entry.cid_v1)
        detail = ("sha256, size and CIDv1 match" if ok else
                  f"came back as {size} bytes, sha256 {digest}, CIDv1 {cid}; recorded {entry.size} bytes, "
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
