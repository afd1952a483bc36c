"""`modelprep publish` against moto's S3 server process: every object arrives with its bytes, a re-run
uploads nothing, a missing bucket is one clear error, and manifests without a trusted signature are
not published."""

from __future__ import annotations

import hashlib

import boto3

from pipeline.manifest import keys
from tests.project import BIN, RELEASES, REPO, run
from tests.servers.s3 import MotoS3

ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
       "MODELPREP_S3_BUCKET": "registry", "MODELPREP_S3_PREFIX": "models/"}


def test_publish_uploads_every_manifest_signature_schema_and_index_once():
    with MotoS3() as s3:
        env = {**ENV, "MODELPREP_S3_ENDPOINT": s3.url}
        client = boto3.client("s3", endpoint_url=s3.url, aws_access_key_id="test", aws_secret_access_key="test",
                              region_name="us-east-1")
        missing = run([str(BIN / "modelprep"), "publish"], cwd=REPO, env=env, check=False)
        assert missing.returncode == 1 and "s3://registry/models/index.json: NoSuchBucket" in missing.stderr
        client.create_bucket(Bucket="registry")
        # Under a policy that trusts another key, nothing is uploaded: the first manifest is named.
        another = keys.public_text(keys.new_private_key().public_key())
        other = run([str(BIN / "modelprep"), "publish", "--trusted-key", another], cwd=REPO, env=env, check=False)
        assert other.returncode == 1 and other.stderr.startswith(f"modelprep: error: {RELEASES[0]}: signature: "
                                                                 "signed by ecdsa-p256 key SHA256:")
        assert "does not trust" in other.stderr and "Contents" not in client.list_objects_v2(Bucket="registry")
        first = run([str(BIN / "modelprep"), "publish"], cwd=REPO, env=env).stdout
        local = {"index.json": REPO / "manifests/index.json", "schema/3.json": REPO / "manifests/schema/3.json",
                 "tiny-llama/Q8_0.json": REPO / "manifests/tiny-llama/Q8_0.json",
                 "tiny-llama/Q8_0.sig.json": REPO / "manifests/tiny-llama/Q8_0.sig.json",
                 "tiny-llama/Q8_0.sigstore.json": REPO / "manifests/tiny-llama/Q8_0.sigstore.json",
                 "tiny-llama/Q8_0.provenance.json": REPO / "manifests/tiny-llama/Q8_0.provenance.json",
                 "all-minilm-l6-v2/onnx-int4.json": REPO / "manifests/all-minilm-l6-v2/onnx-int4.json"}
        stored = {o["Key"] for o in client.list_objects_v2(Bucket="registry")["Contents"]}
        schemas = len(list((REPO / "manifests/schema").glob("*.json")))
        # index.json and .parquet, the schemas, and per release its manifest, signature, package signature and
        # provenance (nothing is pinned)
        assert len(stored) == 2 + schemas + len(RELEASES) * 4 and f"published: {len(stored)} uploaded, 0 already" in first
        for name, path in local.items():
            got = client.get_object(Bucket="registry", Key=f"models/{name}")
            assert got["Body"].read() == path.read_bytes()
            assert got["Metadata"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            assert got["ContentType"] == "application/json"
        again = run([str(BIN / "modelprep"), "publish"], cwd=REPO, env=env).stdout
        assert f"published: 0 uploaded, {len(stored)} already there" in again
