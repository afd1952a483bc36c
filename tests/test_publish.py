"""`modelprep publish` against moto's S3 server process: every object arrives with its bytes, a re-run
uploads nothing, a missing bucket is one clear error, and manifests without a trusted signature are
not published; a withdrawn variant's objects are deleted."""

from __future__ import annotations

import hashlib
import json
import shutil

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
                 "tiny-llama/Q8_0.measured.json": REPO / "manifests/tiny-llama/Q8_0.measured.json",
                 "all-minilm-l6-v2/onnx-int4.json": REPO / "manifests/all-minilm-l6-v2/onnx-int4.json"}
        stored = {o["Key"] for o in client.list_objects_v2(Bucket="registry")["Contents"]}
        schemas = len(list((REPO / "manifests/schema").glob("*.json")))
        # index.json and .parquet, the schemas, and per release its manifest, signature, package signature,
        # provenance and measured figures (nothing is pinned)
        assert len(stored) == 2 + schemas + len(RELEASES) * 5
        assert f"published: {len(stored)} uploaded, 0 already" in first
        for name, path in local.items():
            got = client.get_object(Bucket="registry", Key=f"models/{name}")
            assert got["Body"].read() == path.read_bytes()
            assert got["Metadata"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            assert got["ContentType"] == "application/json"
        again = run([str(BIN / "modelprep"), "publish"], cwd=REPO, env=env).stdout
        assert f"published: 0 uploaded, {len(stored)} already there" in again


def test_a_withdrawn_variant_leaves_the_manifests_folder_and_the_bucket(tmp_path):
    """A variant whose gate fails on a rebuild loses its manifest (DVC deletes the release stage's output
    before running it): `withdraw` removes what still vouches for it, naming the pin it leaves on its
    network, and the next publish deletes its objects and nothing else."""
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    folder = tmp_path / "manifests/tiny-llama"
    cid = json.loads((folder / "Q4_0.json").read_text())["content"]["package"]["cid_v1"]
    pin = {"target": "kubo", "endpoint": "http://127.0.0.1:5001", "cid": cid, "status": "pinned", "detail": "",
           "ids": {}}
    (folder / "Q4_0.pins.json").write_text(json.dumps({"model": "tiny-llama", "variant": "Q4_0",
                                                       "package_cid_v1": cid, "pins": [pin]}))
    modelprep = str(BIN / "modelprep")
    with MotoS3() as s3:
        env = {**ENV, "MODELPREP_S3_ENDPOINT": s3.url}
        client = boto3.client("s3", endpoint_url=s3.url, aws_access_key_id="test", aws_secret_access_key="test",
                              region_name="us-east-1")
        client.create_bucket(Bucket="registry")
        for foreign in ("models/README.txt", "models/tiny-llama/notes.txt", "elsewhere/tiny-llama/Q4_0.json"):
            client.put_object(Bucket="registry", Key=foreign, Body=b"not ours")
        run([modelprep, "publish"], cwd=tmp_path, env=env)
        before = {o["Key"] for o in client.list_objects_v2(Bucket="registry")["Contents"]}
        assert "models/tiny-llama/Q4_0.pins.json" in before

        (folder / "Q4_0.json").unlink()
        withdrawn = run([modelprep, "withdraw"], cwd=tmp_path).stdout
        gone = [f"Q4_0{suffix}" for suffix in (".pins.json", ".provenance.json", ".sig.json", ".sigstore.json",
                                                ".measured.json")]
        assert withdrawn.startswith("withdrawn tiny-llama Q4_0: no longer released; removed ")
        assert all(f"manifests/tiny-llama/{name}" in withdrawn for name in gone)
        assert f"its package {cid} stays pinned at kubo http://127.0.0.1:5001" in withdrawn
        assert not list(folder.glob("Q4_0*")) and (folder / "Q4_K_M.sig.json").is_file()
        assert run([modelprep, "withdraw"], cwd=tmp_path).stdout == ""

        run([modelprep, "index"], cwd=tmp_path)
        published = run([modelprep, "publish"], cwd=tmp_path, env=env).stdout
        after = {o["Key"] for o in client.list_objects_v2(Bucket="registry")["Contents"]}
        assert before - after == {f"models/tiny-llama/{name}" for name in ["Q4_0.json", *gone]}
        assert after - before == set()
        # The index (json and parquet) no longer lists it; nothing else changed.
        assert published.endswith("published: 2 uploaded, "
                                  f"{len(after) - 2 - 3} already there with the same sha256, "
                                  "6 of variants no longer released deleted\n")
