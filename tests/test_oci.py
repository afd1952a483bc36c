"""`modelprep pin --target oci` and `modelprep pull` against a real registry (CNCF distribution 2.8,
Debian's docker-registry, started on loopback): ModelPack manifests whose layer digests are the package
files' sha256, referrers through the tag-schema fallback (this registry has no referrers API), a second
push that sends nothing, and pulls that refuse a tampered layer or a key outside the policy."""

from __future__ import annotations

import json
import shutil
import urllib.request

import pytest

from pipeline.layout import Layout
from pipeline.oci import modelpack
from tests.project import BIN, manifest_copies, run, signing_key
from tests.servers.registry import BINARY, DockerRegistry

pytestmark = pytest.mark.skipif(shutil.which(BINARY) is None,
                                reason="docker-registry is not installed (make test installs it: apt-get install "
                                       "docker-registry)")
VARIANTS = ("Q8_0", "Q4_K_M")


def get(url: str, accept: str = modelpack.IMAGE_MANIFEST) -> bytes:
    return urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept}), timeout=30).read()


def test_push_and_pull_round_trip_through_a_real_registry(built, tmp_path):
    key, public = signing_key(tmp_path)
    manifests = [str(p) for p in manifest_copies(built, tmp_path, "tiny-llama", VARIANTS).values()]
    modelprep = [str(BIN / "modelprep")]
    run([*modelprep, "sign", "--key", str(key), *manifests], cwd=built)
    with DockerRegistry(tmp_path / "registry") as registry:
        push = [*modelprep, "pin", "--target", "oci", "--endpoint", registry.url, *manifests]
        assert "2 package(s) pinned at oci" in run(push, cwd=built).stdout
        pins = json.loads((tmp_path / "manifests/tiny-llama/Q8_0.pins.json").read_text())
        [pin] = pins["pins"]
        digest = pin["ids"]["digest"]
        assert pin["ids"]["reference"] == f"{registry.url.removeprefix('http://')}/modelprep:tiny-llama-Q8_0"
        image_bytes = get(f"{registry.url}/v2/modelprep/manifests/tiny-llama-Q8_0")
        assert modelpack.of_bytes(modelpack.IMAGE_MANIFEST, image_bytes).digest == digest
        image = json.loads(image_bytes)
        assert image["artifactType"] == "application/vnd.cncf.model.manifest.v1+json"
        assert image["config"]["mediaType"] == "application/vnd.cncf.model.config.v1+json"
        signed = json.loads((tmp_path / "manifests/tiny-llama/Q8_0.json").read_text())
        files = {f["path"]: f["sha256"] for f in signed["files"]}
        layers = {layer["annotations"]["org.cncf.model.filepath"]: layer for layer in image["layers"]}
        for path, sha256 in files.items():  # every pushed digest is the package file's sha256
            assert layers[path]["digest"] == f"sha256:{sha256}"
            assert layers[path]["mediaType"] == "application/vnd.cncf.model.weight.v1.raw"
        assert layers["modelprep.json"]["mediaType"] == "application/vnd.cncf.model.weight.config.v1.raw"
        config = json.loads(get(f"{registry.url}/v2/modelprep/blobs/{image['config']['digest']}"))
        assert config["config"]["format"] == "gguf" and config["config"]["precision"] == "int8"
        assert config["modelfs"]["diff_ids"] == [layer["digest"] for layer in image["layers"]]
        index = json.loads(get(f"{registry.url}/v2/modelprep/manifests/{digest.replace(':', '-')}",
                               modelpack.IMAGE_INDEX))
        assert sorted(e["artifactType"] for e in index["manifests"]) == sorted(modelpack.REFERRER_TYPES.values())
        assert sorted(e["digest"] for e in index["manifests"]) == sorted(pin["ids"]["referrers"].values())

        # `modelprep push oci://HOST/REPO` is the same push: everything is there, so nothing is sent.
        blobs = registry.blob_count()
        again = run([*modelprep, "push", f"oci://{registry.url.removeprefix('http://')}/modelprep", *manifests],
                    cwd=built)
        assert again.stderr.count("and its referrers are there; nothing sent") == 2
        assert registry.blob_count() == blobs and "2 package(s) pushed to oci://" in again.stdout
        refused = run([*modelprep, "push", f"oci://{registry.url.removeprefix('http://')}/modelprep:latest"],
                      cwd=built, check=False)
        assert refused.returncode == 1 and "name the repository only" in refused.stderr

        reference = f"oci://{registry.url.removeprefix('http://')}/modelprep@{digest}"
        pull = [*modelprep, "pull", reference, "--trusted-key", public]
        run([*pull, "--out", str(tmp_path / "pulled")], cwd=tmp_path)
        artifact = Layout(built).artifact("tiny-llama", "Q8_0")
        for path in files:
            assert (tmp_path / "pulled/tiny-llama/Q8_0" / path).read_bytes() == (artifact / path).read_bytes()
        assert (tmp_path / "pulled/manifests/tiny-llama/Q8_0.json").read_bytes() == \
            (tmp_path / "manifests/tiny-llama/Q8_0.json").read_bytes()

        foreign = run([*modelprep, "pull", reference, "--trusted-key", signing_key(tmp_path)[1], "--out",
                       str(tmp_path / "foreign")], cwd=tmp_path, check=False)
        assert foreign.returncode == 1 and "does not trust" in foreign.stderr
        assert not (tmp_path / "foreign/tiny-llama").exists()

        gguf = layers["tiny-llama-Q8_0.gguf"]["digest"]
        data = bytearray(registry.blob_file(gguf).read_bytes())
        data[1000] ^= 1
        registry.blob_file(gguf).write_bytes(bytes(data))
        tampered = run([*pull, "--out", str(tmp_path / "tampered")], cwd=tmp_path, check=False)
        assert tampered.returncode == 1
        [error] = [line for line in tampered.stderr.splitlines() if line.startswith("modelprep: error:")]
        assert f"layer tiny-llama-Q8_0.gguf came back as {len(data)} bytes with sha256:" in error
        assert "not the bytes it names" in error and not (tmp_path / "tampered/tiny-llama").exists()
