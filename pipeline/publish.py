"""`modelprep publish`: the manifests, what lies beside them (signatures, provenance, pins), the schema
and the index, to an S3
bucket a registry reads. Only manifests signed by a key the trust policy holds are published: a
registry acts on what they say.

Where and as whom come from the environment only: MODELPREP_S3_BUCKET (required),
MODELPREP_S3_PREFIX (default `modelprep/`), MODELPREP_S3_ENDPOINT for S3-compatible services
(MinIO, R2, a local server), and boto3's own credential chain (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, profiles). Each object carries its sha256 as S3's own
checksum (the server checks it on upload) and as metadata; an object already there with the same
sha256 is left alone, and every upload is read back and re-hashed. The manifests and sidecars of
variants no longer released are deleted from the bucket (withdraw.py says why).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from base64 import b64encode
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from pipeline.errors import ModelprepError
from pipeline.index import released_manifests
from pipeline.layout import Layout
from pipeline.manifest.describe import media_type
from pipeline.manifest.document import SIDECARS, Manifest, sidecar
from pipeline.manifest.schema import SCHEMA_DIR
from pipeline.manifest.signing import check_signature
from pipeline.manifest.trust import TrustPolicy
from pipeline.progress import human_bytes, log
from pipeline.urls import url_problem
from pipeline.withdraw import published_name

if TYPE_CHECKING:
    from pipeline.params import Params

STAGE = "publish"


def publish_files(params: Params, layout: Layout, policy: TrustPolicy) -> list[tuple[Path, str]]:
    """(local file, key below the prefix) of everything a registry reads."""
    files = [(path, path.relative_to(layout.manifests).as_posix()) for path in (layout.index_json,
                                                                                 layout.index_parquet)]
    files += [(path, f"schema/{path.name}") for path in sorted(SCHEMA_DIR.glob("*.json"))]
    for manifest in released_manifests(params, layout):
        signed, detail = check_signature(Manifest.load(manifest), policy) if manifest.is_file() else (True, "")
        if not signed:
            raise ModelprepError(manifest, f"signature: {detail}")
        for path in (manifest, *(sidecar(manifest, kind) for kind in SIDECARS)):
            if path.is_file():
                files.append((path, path.relative_to(layout.manifests).as_posix()))
    missing = [str(path) for path, _ in files if not path.is_file()]
    if missing:
        raise ModelprepError(missing[0], "missing: run `make release` (or `modelprep index`) first")
    return files


def _client():
    import boto3

    endpoint = os.environ.get("MODELPREP_S3_ENDPOINT") or None
    problem = endpoint and url_problem(endpoint)
    if problem:
        raise ModelprepError("MODELPREP_S3_ENDPOINT", problem)
    return boto3.client("s3", endpoint_url=endpoint)


@contextlib.contextmanager
def _s3_errors(where: str) -> Iterator[None]:
    """S3's and botocore's errors as one line naming the object."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as err:
        error = err.response.get("Error", {})
        raise ModelprepError(where, f"{error.get('Code', 'error')}: {error.get('Message', err)}") from None
    except BotoCoreError as err:
        raise ModelprepError(where, f"{type(err).__name__}: {err}") from None


def publish(params: Params, layout: Layout, policy: TrustPolicy) -> tuple[int, int, int]:
    """Upload what changed, then delete the manifests and sidecars of variants no longer released (a
    registry that lists the bucket would otherwise go on matching a withdrawn variant whose signature
    still verifies); (uploaded, unchanged, deleted) counts."""
    from botocore.exceptions import ClientError

    bucket = os.environ.get("MODELPREP_S3_BUCKET")
    if not bucket:
        raise ModelprepError("MODELPREP_S3_BUCKET", "not set: name the bucket to publish to")
    prefix = os.environ.get("MODELPREP_S3_PREFIX", "modelprep/")
    client = _client()
    files = publish_files(params, layout, policy)
    uploaded = unchanged = 0
    for path, name in files:
        key, data = prefix + name, path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        where = f"s3://{bucket}/{key}"
        with _s3_errors(where):
            try:
                if client.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get("sha256") == sha256:
                    unchanged += 1
                    continue
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                    raise
            client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=media_type(path.name),
                              Metadata={"sha256": sha256}, ChecksumAlgorithm="SHA256",
                              ChecksumSHA256=b64encode(bytes.fromhex(sha256)).decode())
            back = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        if hashlib.sha256(back).hexdigest() != sha256:
            raise ModelprepError(where, "reads back with other bytes than were uploaded")
        uploaded += 1
        log(STAGE, f"{path} -> {where} ({human_bytes(len(data))})")
    published = {prefix + name for _, name in files}
    with _s3_errors(f"s3://{bucket}/{prefix}"):
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        withdrawn = [o["Key"] for page in pages for o in page.get("Contents", [])
                     if o["Key"] not in published and published_name(o["Key"].removeprefix(prefix))]
    for key in withdrawn:
        with _s3_errors(f"s3://{bucket}/{key}"):
            client.delete_object(Bucket=bucket, Key=key)
        log(STAGE, f"s3://{bucket}/{key}: no longer released, deleted")
    return uploaded, unchanged, len(withdrawn)
