"""Release manifests against their published JSON Schema: every release is valid, broken ones are
named with the reason, and the README's field table is the schema's own."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from pipeline.errors import ModelprepError
from pipeline.manifest.schema import check_manifest, field_docs, validation_errors
from tests.project import BIN, RELEASES, REPO, run


def test_every_release_is_valid_against_its_schema(built):
    result = run([str(BIN / "modelprep"), "manifest", "validate", *RELEASES], cwd=built)
    assert result.stdout.count(": valid") == len(RELEASES)


def broken(manifest, change):
    copied = copy.deepcopy(manifest)
    change(copied)
    return copied


@pytest.mark.parametrize("change, reason", [
    (lambda m: m.update(record_version=99), "record_version: unknown schema version 99 (known: 3, 4, 5, 6, 7, 8)"),
    (lambda m: m["files"][0].update(sha256="not-a-hash"), "files.0.sha256: 'not-a-hash' does not match"),
    (lambda m: m.pop("accuracy"), "(top level): 'accuracy' is a required property"),
    (lambda m: m.update(budget=1), "(top level): Additional properties are not allowed ('budget' was unexpected)"),
    (lambda m: m["content"]["package"].update(cid_v1="QmNotAV1Cid"), "content.package.cid_v1: 'QmNotAV1Cid' does not"),
    (lambda m: m["accuracy"].update(passed=False), "accuracy.passed: True was expected"),
    (lambda m: m.update(onnx={}), "should not be valid under"),
    (lambda m: m["accuracy"].pop("mean_kld"), "accuracy: 'mean_kld' is a required property"),
    (lambda m: m.pop("probes"), "(top level): 'probes' is a required property"),
    (lambda m: m["probes"].pop("prompts"), "is not valid under any of the given schemas"),
    (lambda m: m["memory"].update(profiles=[]), "memory.profiles: [] should be non-empty"),
    (lambda m: m["identity"].update(license="Apache 2.0"), "identity.license: 'Apache 2.0' does not match"),
    (lambda m: m["memory"]["profiles"][0].update(vram_bytes=-1), "memory.profiles.0.vram_bytes: -1 is less than"),
    (lambda m: m["runtimes"][0]["gpu"][0].update(min_compute_capability="sm90"), "does not match '^[0-9]+"),
])
def test_a_broken_manifest_is_named_with_the_reason(change, reason, tmp_path):
    manifest = json.loads((REPO / "manifests/tiny-llama/Q8_0.json").read_text())
    assert validation_errors(manifest) == []
    bad = broken(manifest, change)
    assert any(reason in error for error in validation_errors(bad)), validation_errors(bad)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    result = run([str(BIN / "modelprep"), "manifest", "validate", str(path)], cwd=tmp_path, check=False)
    assert result.returncode == 1 and reason in result.stdout
    with pytest.raises(ModelprepError, match="bad.json: manifest breaks its schema: "):
        check_manifest(bad, path)


def test_readme_field_table_is_generated_from_the_schema():
    assert field_docs(8) in (REPO / "README.md").read_text()
    assert "| `architecture` | yes | Architecture figures" in field_docs(8)
    assert "| `memory` | yes | Memory per serving profile" in field_docs(8)


def test_files_have_roles_and_the_architecture_is_the_configs(built):
    def manifest(model, variant):
        return json.loads((built / f"manifests/{model}/{variant}.json").read_text())

    llama = manifest("tiny-llama", "onnx-int4")
    roles = {f["path"]: (f["role"], f["media_type"]) for f in llama["files"]}
    assert roles["model.onnx"] == ("model", "application/octet-stream")
    assert roles["genai_config.json"] == ("engine-config", "application/json")
    assert roles["tokenizer.model"][0] == roles["tokenizer.json"][0] == "tokenizer"
    assert roles["config.json"][0] == "config"
    config = json.loads((built / "build/tiny-llama/hf/config.json").read_text())
    assert llama["architecture"] == {
        "architecture": "LlamaForCausalLM", "model_type": "llama", "layers": config["num_hidden_layers"],
        "hidden_size": config["hidden_size"], "ffn_size": config["intermediate_size"],
        "heads": config["num_attention_heads"], "kv_heads": config["num_key_value_heads"],
        "head_size": config["head_dim"], "vocabulary": config["vocab_size"],
        "trained_context": config["max_position_embeddings"], "sliding_window": None}
    assert manifest("tiny-llama", "Q4_K_M")["files"][0]["role"] == "weights"
    minilm = manifest("all-minilm-l6-v2", "onnx-int8")
    assert {f["path"]: f["role"] for f in minilm["files"]}["1_Pooling/config.json"] == "pooling"
    assert minilm["architecture"]["kv_heads"] == minilm["architecture"]["heads"] == 12


def test_signed_manifests_verify_and_a_changed_byte_or_key_fails(built, tmp_path, monkeypatch):
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from pipeline.manifest.document import Manifest
    from pipeline.manifest.keys import fingerprint
    from pipeline.manifest.signing import check_signature, signature_path
    from pipeline.manifest.trust import TrustPolicy

    manifest = tmp_path / "manifests/tiny-llama/Q8_0.json"
    manifest.parent.mkdir(parents=True)
    for name in ("build", "params.yaml", "dvc.lock"):  # the package files sign signs, the inputs it records
        (tmp_path / name).symlink_to(built / name)
    manifest.write_bytes((built / "manifests/tiny-llama/Q8_0.json").read_bytes())
    trusted = TrustPolicy({}, "the test")
    assert check_signature(Manifest.load(manifest), trusted) == (
        False, "not signed (no Q8_0.sig.json; run `modelprep sign`)")
    # No key named anywhere: the user's own key is made (0600) on first use, and used again after.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("MODELPREP_SIGNING_KEY", raising=False)
    modelprep = [str(BIN / "modelprep")]
    first = run([*modelprep, "sign", str(manifest)], cwd=tmp_path).stdout
    key = tmp_path / "config/modelprep/signing-key.pem"
    assert key.stat().st_mode & 0o777 == 0o600 and "1 manifest(s) signed" in first
    signature = signature_path(manifest).read_bytes()
    again = run([*modelprep, "sign", str(manifest)], cwd=tmp_path).stdout
    assert again == first.replace("1 new, 0 still valid", "0 new, 1 still valid")
    assert signature_path(manifest).read_bytes() == signature  # deterministic ECDSA (RFC 6979)
    public = first.split("public key ")[1].split()[0]
    trusted = TrustPolicy({public: ""}, "the test")
    ok, detail = check_signature(Manifest.load(manifest), trusted)
    assert ok and detail == f"signed by trusted ecdsa-p256 key {fingerprint(public)}"
    assert "PRIVATE" not in first and key.read_text().split("\n")[1] not in first
    validate = [*modelprep, "manifest", "validate", "--trusted-key", public, str(manifest)]
    assert ": valid" in run(validate, cwd=tmp_path).stdout
    # One changed byte in the manifest, or a signature by another key pasted in: both fail, saying why.
    manifest.write_bytes(manifest.read_bytes().replace(b'"Q8_0"', b'"Q8_1"', 1))
    result = run(validate, cwd=tmp_path, check=False)
    assert result.returncode == 1 and "signature: the signature in Q8_0.sig.json does not match" in result.stdout
    other = json.loads(signature_path(manifest).read_text())
    other["public_key"] = "A" * 43 + "="
    signature_path(manifest).write_text(json.dumps(other))
    assert not check_signature(Manifest.load(manifest), trusted)[0]
    # A key that is not Ed25519 is one clear error.
    rsa_key = tmp_path / "rsa.pem"
    rsa_key.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    result = run([*modelprep, "sign", "--key", str(rsa_key), str(manifest)], cwd=tmp_path, check=False)
    assert result.returncode == 1 and "rsa.pem: the signing key must be ECDSA P-256, P-384 or P-521" in result.stderr
    assert "not RSAPrivateKey" in result.stderr


@pytest.mark.parametrize("change, reason", [
    (lambda d: d["measured"][0]["performance"].update(peak_rss_bytes="lots"),
     "measured.0.performance.peak_rss_bytes: 'lots' is not of type 'number'"),
    (lambda d: d["measured"][0].pop("host"), "measured.0: 'host' is a required property"),
    (lambda d: d["measured"][0]["settings"].update(device="tpu"), "measured.0.settings.device: 'tpu' is not one of"),
])
def test_a_broken_measured_file_is_named_with_the_reason(change, reason, tmp_path):
    """The measured figures beside a manifest are checked against manifests/schema/measured.json wherever
    they are read (the index, the release table and page): one line naming the file and the problem."""
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    path = tmp_path / "manifests/tiny-llama/Q8_0.measured.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    result = run([str(BIN / "modelprep"), "index"], cwd=tmp_path, check=False)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("modelprep: error: manifests/tiny-llama/Q8_0.measured.json: not a measured-figures "
                               "file: ") and reason in lines[0]
    assert (tmp_path / "manifests/index.json").read_bytes() == (REPO / "manifests/index.json").read_bytes()
