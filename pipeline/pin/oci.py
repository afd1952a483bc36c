"""Target `oci`: the package pushed to an OCI registry as a CNCF ModelPack artifact (oci/modelpack.py),
tagged `<model>-<variant>` in `pin.oci.repository`, with the hardware manifest, its signature, the
OpenSSF bundle and the provenance attached as referrers.

Blobs the registry already holds are not sent again (HEAD first), so a second push uploads nothing;
every layer's digest is the file's sha256 from the manifest, and the registry re-hashes what it
receives. The pin records the reference and the manifest digest, which is what `modelprep pull
oci://HOST/REPO@sha256:...` and Kubernetes (modelcars, image volumes) fetch by. Auth:
MODELPREP_OCI_AUTH as `bearer:TOKEN` or `basic:USER:PASSWORD`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError
from pipeline.manifest.document import Manifest, sidecar
from pipeline.oci import modelpack
from pipeline.oci.registry import TOKEN_HINT, Registry, file_body
from pipeline.package import RECORD_FILE, Release
from pipeline.pin.base import STAGE, Pin
from pipeline.pin.http import RetrySpec, read_url
from pipeline.pin.secrets import authorization_header, read_secret
from pipeline.progress import ByteProgress, human_bytes, log
from pipeline.settings import Reader

ATTACHED = ("signature", "package signature", "provenance")  # sidecars pushed as referrers, with the manifest


@dataclass(frozen=True)
class OciSpec:
    """params.yaml `pin.oci`."""

    registry: str  # the registry's base URL
    repository: str  # where the packages go; each is tagged <model>-<variant>


def read_oci(r: Reader, data: Any, where: str) -> OciSpec:
    data = r.mapping(data, where)
    r.no_extra(data, {"registry", "repository"}, where)
    return OciSpec(read_url(r, data, "registry", where), r.get(data, "repository", str, where))


def registry_headers(secret_file: Path | None) -> dict[str, str]:
    return authorization_header(read_secret(TOKEN_HINT, secret_file, "OCI registry credential"), TOKEN_HINT)


class OciRegistry:
    name = "oci"

    read_settings = staticmethod(read_oci)

    def __init__(self, spec: OciSpec, retry: RetrySpec, secret_file: Path | None = None, endpoint: str | None = None):
        self.endpoint = endpoint or spec.registry
        if not self.endpoint or not spec.repository:
            raise ModelprepError("params.yaml", "'pin.oci.registry' and 'pin.oci.repository' must be set for "
                                                "target oci (or --endpoint)")
        self.registry = Registry(self.endpoint, spec.repository, retry, STAGE, registry_headers(secret_file))

    def pin(self, release: Release, previous: Pin | None) -> Pin:
        manifest = Manifest.load(release.manifest)
        missing = [k for k in ATTACHED if not sidecar(release.manifest, k).is_file()]
        if missing:
            raise ModelprepError(release.manifest, f"no {', '.join(missing)} beside it: run `modelprep sign` first")
        record = release.file(RECORD_FILE)
        blobs = modelpack.layers(manifest, record.sha256, record.size, RECORD_FILE)
        config_bytes = modelpack.model_config(manifest, blobs)
        config = modelpack.of_bytes(modelpack.MODEL_CONFIG, config_bytes)
        image = modelpack.image_manifest(config, blobs, {"org.opencontainers.image.title": release.label,
                                                         "dev.modelprep.package.cid": release.cid_v1})
        subject = modelpack.of_bytes(modelpack.IMAGE_MANIFEST, image)
        tag = f"{release.model}-{release.variant}"
        reference = f"{self.endpoint.split('://', 1)[-1]}/{self.registry.repository}:{tag}"
        attached = {}
        for kind in ("manifest", *ATTACHED):
            path = release.manifest if kind == "manifest" else sidecar(release.manifest, kind)
            data = path.read_bytes()
            blob = modelpack.of_bytes(modelpack.REFERRER_TYPES[kind], data)
            blob = modelpack.Blob(blob.media_type, blob.digest, blob.size, {modelpack.FILEPATH: path.name})
            attached[kind] = (blob, data, modelpack.referrer_manifest(subject, blob.media_type, blob))
        if self._there(tag, subject.digest, attached):
            log(STAGE, f"{release.label}: {reference}@{subject.digest} and its referrers are there; nothing sent")
        else:
            self._push(release, blobs, (config, config_bytes), tag, image, attached, reference)
        referrers = {kind: modelpack.of_bytes(modelpack.IMAGE_MANIFEST, entry[2]).digest
                     for kind, entry in attached.items()}
        return Pin(self.name, self.endpoint, release.cid_v1, "pinned", f"{reference}@{subject.digest}",
                   {"reference": reference, "digest": subject.digest, "referrers": referrers})

    def _there(self, tag: str, digest: str, attached: dict[str, tuple]) -> bool:
        found = self.registry.manifest(tag)
        if not found or found[1] != digest:
            return False
        listed = {entry.get("digest") for entry in self.registry.referrers(digest)}
        return all(modelpack.of_bytes(modelpack.IMAGE_MANIFEST, m).digest in listed for _, _, m in attached.values())

    def _push(self, release: Release, blobs: list[modelpack.Blob], config: tuple[modelpack.Blob, bytes], tag: str,
              image: bytes, attached: dict[str, tuple], reference: str) -> None:
        total = sum(b.size for b in blobs)
        progress = ByteProgress(STAGE, f"{release.label} to {reference}", total)
        sent = 0
        for blob, entry in zip(blobs, release.files, strict=True):
            body = file_body(entry.path, progress) if entry.path else (lambda data=entry.data: data)
            if self.registry.push_blob(blob, body):
                sent += blob.size
            else:
                progress.advance(blob.size)
        progress.finish()
        self.registry.push_blob(config[0], lambda: config[1])
        self.registry.push_blob(modelpack.of_bytes(modelpack.EMPTY_CONFIG, modelpack.EMPTY), lambda: modelpack.EMPTY)
        subject = self.registry.push_manifest(tag, image)
        for blob, data, referrer in attached.values():
            self.registry.push_blob(blob, lambda data=data: data)
            self.registry.attach(subject, referrer, blob.media_type)
        log(STAGE, f"{release.label}: {reference}@{subject}, {human_bytes(sent)} of {human_bytes(total)} sent "
                   f"(the rest was there), {len(attached)} referrers")

    def open_file(self, pin: Pin, release: Release, name: str) -> Iterator[bytes]:
        entry = release.file(name)
        return self.registry.blob_chunks(f"sha256:{entry.sha256}")

