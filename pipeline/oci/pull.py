"""`modelprep pull oci://HOST/REPO@sha256:DIGEST`: a package fetched by digest and trusted only once
everything checks.

The image manifest's bytes must hash to the digest asked for; its referrers give the hardware
manifest, its signature, the OpenSSF bundle and the provenance, each re-hashed against its
descriptor. The manifest's signature and the provenance must be by a key of the trust policy; every
layer is streamed to disk and re-hashed against both its descriptor and the sha256 the signed
manifest records for that file; the OpenSSF bundle must then verify the whole folder. Only then is
it moved into place: `OUT/<model>/<variant>/` (the package) and `OUT/manifests/<model>/` (the
manifest and what lies beside it). A tampered layer, a foreign key or a missing referrer fails with
one line and leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.fileio import atomic_path
from pipeline.manifest.document import PACKAGE_PATH, Manifest, sidecar
from pipeline.manifest.signing import check_signature
from pipeline.manifest.trust import TrustPolicy
from pipeline.oci import modelpack
from pipeline.oci.registry import Registry, parse_reference
from pipeline.openssf import verify_folder
from pipeline.package import RECORD_FILE, record_bytes
from pipeline.pin.http import RetrySpec
from pipeline.progress import ByteProgress, human_bytes, log
from pipeline.provenance import check_provenance

STAGE = "pull"
KINDS = {media_type: kind for kind, media_type in modelpack.REFERRER_TYPES.items()}


def _fetch_blob(registry: Registry, descriptor: dict, out: Path, progress: ByteProgress | None = None) -> None:
    sha256, size = hashlib.sha256(), 0
    with open(out, "wb") as handle:
        for chunk in registry.blob_chunks(descriptor["digest"]):
            sha256.update(chunk)
            handle.write(chunk)
            size += len(chunk)
            if progress:
                progress.advance(len(chunk))
    found = f"sha256:{sha256.hexdigest()}"
    if (found, size) != (descriptor["digest"], descriptor["size"]):
        where = descriptor.get("annotations", {}).get(modelpack.FILEPATH, descriptor["digest"])
        raise ModelprepError(f"{registry.url}/v2/{registry.repository}/blobs/{descriptor['digest']}",
                             f"layer {where} came back as {size} bytes with {found}: not the bytes it names")


def _referrers(registry: Registry, subject: str, folder: Path) -> dict[str, Path]:
    """The attached files (hardware manifest, signature, bundle, provenance), fetched and re-hashed."""
    found = {}
    for entry in registry.referrers(subject):
        kind = KINDS.get(entry.get("artifactType", ""))
        if not kind or kind in found:
            continue
        fetched = registry.manifest(entry["digest"])
        if fetched is None:
            raise ModelprepError(entry["digest"], "a listed referrer is missing from the registry")
        document = json.loads(fetched[0])
        if document.get("subject", {}).get("digest") != subject or len(document.get("layers", [])) != 1:
            raise ModelprepError(entry["digest"], f"the {kind} referrer does not refer to {subject} with one file")
        [layer] = document["layers"]
        name = layer.get("annotations", {}).get(modelpack.FILEPATH, "")
        if "/" in name or not PACKAGE_PATH.fullmatch(name):
            raise ModelprepError(entry["digest"], f"the {kind} referrer names the file {name!r}")
        _fetch_blob(registry, layer, folder / name)
        found[kind] = folder / name
    missing = [kind for kind in modelpack.REFERRER_TYPES if kind not in found]
    if missing:
        raise ModelprepError(subject, f"no {', '.join(missing)} attached to it: not a modelprep release")
    return found


def pull(reference: str, out: Path, policy: TrustPolicy, retry: RetrySpec, headers: dict[str, str]) -> Path:
    url, repository, ref = parse_reference(reference)
    if not ref.startswith("sha256:"):
        raise ModelprepError(reference, "pull by digest (…@sha256:HEX): a tag can be moved to other bytes")
    registry = Registry(url, repository, retry, STAGE, headers)
    fetched = registry.manifest(ref)
    if fetched is None:
        raise ModelprepError(reference, "no such manifest in the registry")
    image = json.loads(fetched[0])
    if image.get("artifactType") != modelpack.MODEL_ARTIFACT:
        raise ModelprepError(reference, f"artifactType {image.get('artifactType')!r}, not a ModelPack model")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pull-", dir=out) as tmp:
        records = Path(tmp) / "records"
        records.mkdir()
        found = _referrers(registry, ref, records)
        manifest = Manifest.load(found["manifest"])
        model, variant = manifest.model, manifest.variant
        named = Path(tmp) / "manifests" / model / f"{variant}.json"
        named.parent.mkdir(parents=True)
        shutil.move(found["manifest"], named)
        for kind in ("signature", "package signature", "provenance"):
            shutil.move(found[kind], sidecar(named, kind))
        manifest = Manifest.load(named)
        for check in (check_signature, check_provenance):
            ok, detail = check(manifest, policy)
            if not ok:
                raise ModelprepError(reference, detail)
        recorded = {f.path: f.sha256 for f in manifest.files}
        recorded[RECORD_FILE] = hashlib.sha256(record_bytes(manifest.record)).hexdigest()
        package = Path(tmp) / "package"
        layers = image.get("layers", [])
        names = [layer.get("annotations", {}).get(modelpack.FILEPATH, "") for layer in layers]
        if sorted(names) != sorted(recorded):
            raise ModelprepError(reference, f"its layers are {sorted(names)}, the signed manifest lists "
                                            f"{sorted(recorded)}")
        total = sum(layer["size"] for layer in layers)
        progress = ByteProgress(STAGE, f"{model}/{variant} from {reference}", total)
        for layer, name in zip(layers, names, strict=True):
            if layer["digest"] != f"sha256:{recorded[name]}":
                raise ModelprepError(reference, f"layer {name} is {layer['digest']}, the signed manifest records "
                                                f"sha256:{recorded[name]}")
            (package / name).parent.mkdir(parents=True, exist_ok=True)
            _fetch_blob(registry, layer, package / name, progress)
        progress.finish()
        ok, detail = verify_folder(package, sidecar(named, "package signature"), policy)
        if not ok:
            raise ModelprepError(reference, detail)
        target = out / model / variant
        with atomic_path(target, directory=True) as final:
            final.rmdir()
            shutil.move(package, final)
        records_dir = out / "manifests" / model
        records_dir.mkdir(parents=True, exist_ok=True)
        for path in named.parent.iterdir():
            os.replace(path, records_dir / path.name)
    log(STAGE, f"{model}/{variant}: {len(layers)} files ({human_bytes(total)}) verified into {target}; {detail}")
    return target
