"""The OCI distribution API, as much of it as pushing and pulling a package needs, over the project's
own HTTP client (pin/http.py: retries, pacing, one clear error), not the `oras` SDK: every answer is
checked here (a blob's or manifest's digest recomputed, the registry's Docker-Content-Digest
compared), uploads stream from disk with progress, and the referrers fallback is spelled out.

Referrers: the registry's referrers API (`GET /v2/<repo>/referrers/<digest>`) where it answers; else
the OCI 1.1 tag schema, an image index tagged `sha256-<hex>` listing them (CNCF distribution 2.8
has no referrers API and 404s it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError
from pipeline.oci.modelpack import IMAGE_INDEX, IMAGE_MANIFEST, Blob, encode
from pipeline.pin.http import Body, HttpClient, RetrySpec, json_answer
from pipeline.progress import ByteProgress

READ = 1 << 20
TOKEN_HINT = "MODELPREP_OCI_AUTH"


def parse_reference(reference: str) -> tuple[str, str, str]:
    """oci://HOST[:PORT]/REPO[:TAG|@sha256:HEX] -> (registry URL, repository, tag or digest). Loopback
    registries are spoken to over plain HTTP, as oras's --plain-http; all others over HTTPS."""
    if not reference.startswith("oci://"):
        raise ModelprepError(reference, "an OCI reference is oci://HOST[:PORT]/REPOSITORY[:TAG|@sha256:DIGEST]")
    host, _, rest = reference[len("oci://"):].partition("/")
    if not host or not rest:
        raise ModelprepError(reference, "names no registry host or no repository")
    if "@" in rest:
        repository, _, ref = rest.partition("@")
    else:
        repository, _, ref = rest.rpartition(":") if ":" in rest.rsplit("/", 1)[-1] else (rest, "", "")
    plain = host.split(":")[0] in ("127.0.0.1", "localhost", "[::1]")
    return f"{'http' if plain else 'https'}://{host}", repository, ref


class Registry:
    def __init__(self, url: str, repository: str, retry: RetrySpec, stage: str, headers: dict[str, str]):
        self.url, self.repository = url.rstrip("/"), repository
        self.client = HttpClient(self.url, retry, stage, TOKEN_HINT, headers)

    def _path(self, kind: str, ref: str) -> str:
        return f"/v2/{self.repository}/{kind}/{ref}"

    def has_blob(self, digest: str) -> bool:
        return self.client.request("HEAD", self._path("blobs", digest), accept=(200, 404)).status_code == 200

    def push_blob(self, blob: Blob, body: Body) -> bool:
        """Upload `body` as `blob` unless the registry has it; whether it was sent. The registry checks the
        digest of what it received against the one named (distribution refuses a mismatch)."""
        if self.has_blob(blob.digest):
            return False
        started = self.client.request("POST", f"/v2/{self.repository}/blobs/uploads/", accept=(202,))
        location = started.headers.get("Location")
        if not location:
            raise ModelprepError(started.url, "answered 202 without a Location to upload to")
        if not location.startswith("/"):
            if not location.startswith(self.url + "/"):
                raise ModelprepError(started.url, f"wants the upload elsewhere ({location[:80]}); not followed")
            location = location[len(self.url):]
        separator = "&" if "?" in location else "?"
        self.client.request("PUT", f"{location}{separator}digest={blob.digest}", body=body, accept=(201,),
                            headers={"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)})
        return True

    def push_manifest(self, ref: str, data: bytes, media_type: str = IMAGE_MANIFEST) -> str:
        """PUT a manifest under a tag or its digest; the digest, checked against the registry's."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        answer = self.client.request("PUT", self._path("manifests", ref), body=lambda: data, accept=(201,),
                                     headers={"Content-Type": media_type})
        theirs = answer.headers.get("Docker-Content-Digest")
        if theirs and theirs != digest:
            raise ModelprepError(answer.url, f"stored the manifest as {theirs}, its bytes are {digest}")
        return digest

    def manifest(self, ref: str, accept: str = IMAGE_MANIFEST) -> tuple[bytes, str] | None:
        """(bytes, digest) of a manifest by tag or digest, None where there is none; a digest reference
        must match the bytes."""
        answer = self.client.request("GET", self._path("manifests", ref), accept=(200, 404),
                                     headers={"Accept": accept})
        if answer.status_code == 404:
            return None
        digest = "sha256:" + hashlib.sha256(answer.content).hexdigest()
        if ref.startswith("sha256:") and ref != digest:
            raise ModelprepError(answer.url, f"answered a manifest whose bytes are {digest}, not {ref}")
        return answer.content, digest

    def blob_chunks(self, digest: str) -> Iterator[bytes]:
        answer = self.client.request("GET", self._path("blobs", digest), stream=True)
        yield from self.client.chunks(answer)

    # Referrers ----------------------------------------------------------------------------------------
    def referrers(self, subject: str) -> list[dict[str, Any]]:
        """Descriptors of the manifests that refer to `subject`: the referrers API, else the tag schema."""
        answer = self.client.request("GET", f"/v2/{self.repository}/referrers/{subject}", accept=(200, 404),
                                     headers={"Accept": IMAGE_INDEX})
        if answer.status_code == 200 and answer.headers.get("Content-Type", "").startswith(IMAGE_INDEX):
            return json_answer(answer).get("manifests", [])
        index = self.manifest(_fallback_tag(subject), IMAGE_INDEX)
        return json.loads(index[0]).get("manifests", []) if index else []

    def attach(self, subject: str, data: bytes, artifact_type: str) -> str:
        """Push a referrer manifest by digest and, when the registry did not take in its subject itself
        (no OCI-Subject header), list it in the tag-schema index."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        answer = self.client.request("PUT", self._path("manifests", digest), body=lambda: data, accept=(201,),
                                     headers={"Content-Type": IMAGE_MANIFEST})
        if answer.headers.get("OCI-Subject") == subject:
            return digest
        current = self.referrers(subject)
        if any(entry.get("digest") == digest for entry in current):
            return digest
        entry = {"mediaType": IMAGE_MANIFEST, "digest": digest, "size": len(data), "artifactType": artifact_type}
        index = encode({"schemaVersion": 2, "mediaType": IMAGE_INDEX, "manifests": [*current, entry]})
        self.push_manifest(_fallback_tag(subject), index, IMAGE_INDEX)
        return digest


def _fallback_tag(digest: str) -> str:
    return digest.replace(":", "-")


class _FileReader:
    """A file as a request body with a known length (sent with Content-Length, not chunked, which some
    registries refuse), counting into `progress` as it is read."""

    def __init__(self, path: Path, progress: ByteProgress):
        self.handle, self.progress = open(path, "rb"), progress  # noqa: SIM115 (requests reads, then closes it)
        self.size = path.stat().st_size

    def __len__(self) -> int:
        return self.size

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size if size and size > 0 else READ)
        self.progress.advance(len(chunk))
        if not chunk:
            self.handle.close()
        return chunk


def file_body(path: Path, progress: ByteProgress) -> Body:
    """A file streamed from disk, opened anew for each try."""
    return lambda: _FileReader(path, progress)
