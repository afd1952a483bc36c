"""A released package as a CNCF ModelPack artifact: every media type and annotation described once.

One OCI image manifest per variant: artifactType `application/vnd.cncf.model.manifest.v1+json`, a
ModelPack config blob (descriptor, config and modelfs), and one raw layer per package file (weights,
weight config, docs) carrying its path in `org.cncf.model.filepath`, so a layer's digest is the
file's sha256 the hardware manifest records. The hardware manifest, its signature, the OpenSSF
bundle and the provenance are attached as referrers of it, each an artifact manifest whose one layer
is that file. Nothing in them is a time or a local path: the same package gives the same digests.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pipeline.manifest.document import Manifest

IMAGE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
IMAGE_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
MODEL_ARTIFACT = "application/vnd.cncf.model.manifest.v1+json"
MODEL_CONFIG = "application/vnd.cncf.model.config.v1+json"
FILEPATH = "org.cncf.model.filepath"
# Package file role (manifest/describe.py) -> ModelPack layer media type (all raw: one file, as stored).
WEIGHTS = "application/vnd.cncf.model.weight.v1.raw"
LAYER_TYPES = {"weights": WEIGHTS, "model": WEIGHTS, "imatrix": "application/vnd.cncf.model.dataset.v1.raw"}
WEIGHT_CONFIG = "application/vnd.cncf.model.weight.config.v1.raw"  # tokenizer, configs, the record
# What each referrer is, by the sidecar it carries (manifest/document.py SIDECARS) or the manifest itself.
REFERRER_TYPES = {"manifest": "application/vnd.modelprep.hardware-manifest.v1+json",
                  "signature": "application/vnd.modelprep.signature.v1+json",
                  "package signature": "application/vnd.dev.sigstore.bundle.v0.3+json",
                  "provenance": "application/vnd.in-toto+json"}
EMPTY = b"{}"


@dataclass(frozen=True)
class Blob:
    media_type: str
    digest: str  # sha256:<hex>
    size: int
    annotations: dict[str, str] | None = None

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size,
                **({"annotations": self.annotations} if self.annotations else {})}


def of_bytes(media_type: str, data: bytes) -> Blob:
    return Blob(media_type, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))


def encode(document: dict[str, Any]) -> bytes:
    """Canonical bytes (the digest names them): sorted keys, no spaces."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def layers(manifest: Manifest, record_sha256: str, record_size: int, record_name: str) -> list[Blob]:
    """One raw layer per package file, in the manifest's order, then the record."""
    out = [Blob(LAYER_TYPES.get(f.role, WEIGHT_CONFIG), f"sha256:{f.sha256}", f.size, {FILEPATH: f.path})
           for f in manifest.files]
    return out + [Blob(WEIGHT_CONFIG, f"sha256:{record_sha256}", record_size, {FILEPATH: record_name})]


def parameters(manifest: Manifest) -> int:
    """The weight count the architecture block implies (attention, MLP and embedding matrices; norms and
    biases, under 0.1%, left out): manifests record the shape, not the count."""
    a = manifest["architecture"]
    h, inner = a["hidden_size"], a["heads"] * a["head_size"]
    attention = 2 * h * inner + 2 * h * a["kv_heads"] * a["head_size"]
    decoder = manifest.kind.name == "decoder"
    mlp = (3 if decoder else 2) * h * a["ffn_size"]  # gated (gate, up, down) in decoders; up, down in BERT
    return a["layers"] * (attention + mlp) + a["vocabulary"] * h * (2 if decoder else 1)


def _param_size(count: int) -> str:
    for scale, letter in ((10 ** 12, "T"), (10 ** 9, "B"), (10 ** 6, "M"), (10 ** 3, "K")):
        if count >= scale:
            return f"{count / scale:.1f}{letter}"
    return str(count)


def model_config(manifest: Manifest, blobs: list[Blob]) -> bytes:
    identity, quantization = manifest["identity"], manifest["quantization"]
    return encode({
        "descriptor": {"name": identity["name"], "version": identity["version"], "family": identity["family"],
                       "authors": [identity["built_by"]], "licenses": [identity["license"]],
                       "title": f"{manifest.model} {manifest.variant}"},
        "config": {"architecture": "transformer", "format": manifest.format,
                   "paramSize": _param_size(parameters(manifest)), "precision": quantization["precision"],
                   "quantization": quantization.get("method") or quantization["type"]},
        "modelfs": {"type": "layers", "diff_ids": [b.digest for b in blobs]}})


def image_manifest(config: Blob, blobs: list[Blob], annotations: dict[str, str]) -> bytes:
    return encode({"schemaVersion": 2, "mediaType": IMAGE_MANIFEST, "artifactType": MODEL_ARTIFACT,
                   "config": config.descriptor(), "layers": [b.descriptor() for b in blobs],
                   "annotations": annotations})


def referrer_manifest(subject: Blob, artifact_type: str, blob: Blob) -> bytes:
    """An artifact manifest carrying one file, pointing at `subject` (OCI 1.1 `subject`)."""
    return encode({"schemaVersion": 2, "mediaType": IMAGE_MANIFEST, "artifactType": artifact_type,
                   "config": of_bytes(EMPTY_CONFIG, EMPTY).descriptor(), "layers": [blob.descriptor()],
                   "subject": subject.descriptor()})
