"""The trust policy: what a consumer acts on must be signed, by a key it trusts, for the name it lies under;
each package's OpenSSF model signature, checked by the model-signing library's own command line; and
its signed SLSA provenance.

The forgery is the one a new user tried: a released manifest edited (probe tolerance 1000, so any node
passes; memory figures divided by 10) and re-signed with a fresh key. Every consumer command must refuse
it, and the genuine manifest must still pass, so the refusals are the policy's and nothing else's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess

import pytest

from pipeline.errors import ModelprepError
from pipeline.layout import Layout
from pipeline.manifest import keys
from pipeline.manifest.document import Manifest
from pipeline.manifest.keys import fingerprint
from pipeline.manifest.signing import signature_path
from pipeline.manifest.trust import TRUST_ENV
from pipeline.openssf import bundle_path
from pipeline.package import RECORD_FILE, record_bytes
from pipeline.provenance import provenance_path, source_commit
from tests.project import BIN, REPO, manifest_copies, run, signing_key
from tests.servers.process import free_port

MANIFEST = "manifests/tiny-llama/Q8_0.json"


def consumers(manifest: str) -> dict[str, list[str]]:
    """Each consumer command on `manifest`; probe's endpoint has nobody listening."""
    return {"verify": ["verify", manifest], "check": ["check", manifest],
            "validate": ["manifest", "validate", manifest],
            "probe": ["probe", manifest, "--endpoint", f"http://127.0.0.1:{free_port()}", "--timeout", "2"]}


def outcomes(built, manifest: str, env: dict[str, str], *extra: str) -> dict[str, tuple[int, str]]:
    return {name: (result.returncode, result.stdout + result.stderr)
            for name, command in consumers(manifest).items()
            for result in [run([str(BIN / "modelprep"), *command, *extra], cwd=built, check=False, env=env)]}


def write_manifest(path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def test_a_resigned_forgery_a_renamed_or_unsigned_manifest_fails_every_consumer(built, tmp_path):
    builder, builder_public = signing_key(tmp_path)
    forger, forger_public = signing_key(tmp_path)
    policy = tmp_path / "trusted-keys"
    policy.write_text(f"# the project's builders\necdsa-p256 {builder_public} release builder\n")
    env = {TRUST_ENV: str(policy)}
    manifest = tmp_path / MANIFEST
    manifest.parent.mkdir(parents=True)
    shutil.copyfile(built / MANIFEST, manifest)
    sign = [str(BIN / "modelprep"), "sign", "--key"]
    run([*sign, str(builder), str(manifest)], cwd=built)

    genuine = outcomes(built, str(manifest), env)
    for name in ("verify", "check", "validate"):
        assert genuine[name][0] == 0, genuine[name][1]
        assert "FAIL" not in genuine[name][1]
    assert f"signed by trusted ecdsa-p256 key {fingerprint(builder_public)} (release builder)" in genuine["verify"][1]
    assert "Q8_0.sigstore.json: 2 files, signed by trusted key" in genuine["verify"][1]
    # The genuine manifest gets as far as the endpoint (nobody there); the others never do.
    assert genuine["probe"][0] == 1 and "no answer" in genuine["probe"][1] and "signature" not in genuine["probe"][1]

    data = json.loads(manifest.read_text())
    data["probes"]["logprob_tolerance"] = 1000
    for profile in data["memory"]["profiles"]:
        profile["ram_bytes"] //= 10
    write_manifest(manifest, data)
    run([*sign, str(forger), str(manifest)], cwd=built)
    refusal = f"signed by ecdsa-p256 key {fingerprint(forger_public)}, which ${TRUST_ENV} ({policy}) does not trust"
    for name, (code, output) in outcomes(built, str(manifest), env).items():
        assert code == 1 and refusal in output, (name, output)
        assert "no answer" not in output, "probe must refuse before asking the endpoint"
    # A key named on the command line replaces the policy: the forger's key trusted, the builder's not.
    # (Its content checks still fail: the edit changed the package record, whose CIDs were not recomputed.)
    named = outcomes(built, str(manifest), env, "--trusted-key", forger_public)
    assert f"signed by trusted ecdsa-p256 key {fingerprint(forger_public)}" in named["verify"][1]
    assert named["validate"][0] == 0, named["validate"][1]

    # The genuine manifest and its signature, copied under another variant's name.
    shutil.copyfile(built / MANIFEST, manifest)
    run([*sign, str(builder), str(manifest)], cwd=built)
    renamed = manifest.with_name("Q4_K_M.json")
    shutil.copyfile(manifest, renamed)
    shutil.copyfile(signature_path(manifest), signature_path(renamed))
    for name, (code, output) in outcomes(built, str(renamed), env).items():
        assert code == 1 and "signed for tiny-llama/Q8_0.json, found at tiny-llama/Q4_K_M.json" in output, name

    signature_path(manifest).unlink()
    for name, (code, output) in outcomes(built, str(manifest), env).items():
        if name != "validate":  # the schema check allows an unsigned manifest; everything that acts on one refuses
            assert code == 1 and "not signed (no Q8_0.sig.json" in output, (name, output)


def test_no_trusted_key_at_all_is_refused_with_how_to_name_one(built, tmp_path):
    key, _ = signing_key(tmp_path)
    manifest = tmp_path / MANIFEST
    manifest.parent.mkdir(parents=True)
    shutil.copyfile(built / MANIFEST, manifest)
    run([str(BIN / "modelprep"), "sign", "--key", str(key), str(manifest)], cwd=built)
    result = run([str(BIN / "modelprep"), "verify", str(manifest)], cwd=built, check=False, env={TRUST_ENV: ""})
    assert result.returncode == 1
    assert f"no key is trusted ({tmp_path / 'manifests/trusted-keys'} holds none)" in result.stdout


@pytest.mark.parametrize("line, problem", [
    ("ed25519", "expected '<algorithm> <base64 public key> [comment]'"),
    ("rsa AAAA builder", "algorithm 'rsa' is not one of ed25519, ecdsa-p256, ecdsa-p384, ecdsa-p521"),
    ("ed25519 not-base64!", "is not base64"),
    ("ed25519 AAAA", "is 3 bytes, an Ed25519 public key is 32"),
    ("ecdsa-p256 AAAA", "is not a DER public key"),
])
def test_a_broken_trusted_keys_file_is_one_error_naming_its_line(built, tmp_path, line, problem):
    policy = tmp_path / "trusted-keys"
    policy.write_text(f"# builders\n\n{line}\n")
    result = run([str(BIN / "modelprep"), "verify", str(built / MANIFEST)], cwd=built, check=False,
                 env={TRUST_ENV: str(policy)})
    assert result.returncode == 1 and result.stdout == ""
    [error] = result.stderr.splitlines()
    assert error.startswith(f"modelprep: error: {policy}:3: ") and problem in error


def test_sign_says_when_its_key_is_not_trusted_and_trust_adds_it(built, tmp_path):
    key, public = signing_key(tmp_path)
    manifest = tmp_path / MANIFEST
    manifest.parent.mkdir(parents=True)
    shutil.copyfile(built / MANIFEST, manifest)
    project = tmp_path / "project"  # sign reads and writes the trusted-keys of the project it runs in
    (project / "manifests").mkdir(parents=True)
    for name in ("build", "params.yaml", "dvc.lock"):  # the package files it signs, the inputs its provenance names
        (project / name).symlink_to(built / name)
    sign = [str(BIN / "modelprep"), "sign", "--key", str(key), str(manifest)]
    assert "manifests/trusted-keys does not trust this key" in run(sign, cwd=project).stdout
    assert "now trusts this key (CI builder)" in run([*sign, "--trust", "CI builder"], cwd=project).stdout
    assert f"ecdsa-p256 {public} CI builder\n" in (project / "manifests/trusted-keys").read_text()
    again = run([*sign, "--trust", "CI builder"], cwd=project).stdout
    assert "does not trust" not in again and "now trusts" not in again


def test_packages_carry_openssf_signatures_that_the_librarys_own_cli_verifies(built, tmp_path):
    key, public = signing_key(tmp_path)
    signed = manifest_copies(built, tmp_path, "tiny-llama", ("Q8_0", "Q4_K_M"))
    sign = [str(BIN / "modelprep"), "sign", "--key", str(key), *map(str, signed.values())]
    assert "2 new, 0 still valid" in run(sign, cwd=built).stdout
    bundle = bundle_path(signed["Q8_0"])
    # The package as a node receives it (the variant's files and its record), in a folder of any name.
    manifest = Manifest.load(signed["Q8_0"])
    folder = tmp_path / "downloaded"
    shutil.copytree(Layout(built).artifact("tiny-llama", "Q8_0"), folder)
    (folder / RECORD_FILE).write_bytes(record_bytes(manifest.record))
    pem = tmp_path / "builder.pem"
    pem.write_bytes(keys.public_pem(keys.load_public("ecdsa-p256", public)))

    def library_verify(public_pem, signature=bundle):
        return run([str(BIN / "model_signing"), "verify", "key", "--signature", str(signature), "--public_key",
                    str(public_pem), str(folder)], cwd=tmp_path, check=False)

    verified = library_verify(pem)
    assert verified.returncode == 0 and "Verification succeeded" in verified.stdout, verified.stderr
    other = tmp_path / "other.pem"
    other.write_bytes(keys.public_pem(keys.new_private_key().public_key()))
    assert library_verify(other).returncode == 1
    assert library_verify(pem, bundle_path(signed["Q4_K_M"])).returncode == 1  # another package's signature
    gguf = folder / "tiny-llama-Q8_0.gguf"
    data = bytearray(gguf.read_bytes())
    data[4096] ^= 1
    gguf.write_bytes(bytes(data))
    flipped = library_verify(pem)
    assert flipped.returncode == 1
    assert "Hash mismatch for" in flipped.stderr and "tiny-llama-Q8_0.gguf" in flipped.stderr

    # Signing again keeps a bundle that still verifies (ECDSA in bundles is randomised).
    before = bundle.read_bytes()
    assert "0 new, 2 still valid" in run(sign, cwd=built).stdout and bundle.read_bytes() == before
    # modelprep verify checks the bundle through the library too: another package's bundle fails it.
    shutil.copyfile(bundle_path(signed["Q4_K_M"]), bundle)
    result = run([str(BIN / "modelprep"), "verify", "--trusted-key", public, str(signed["Q8_0"])], cwd=built,
                 check=False)
    [line] = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert result.returncode == 1 and line.startswith("FAIL  package signature") and "verifies under no key" in line


def test_provenance_is_signed_names_the_inputs_and_fails_for_another_package_or_key(built, tmp_path):
    key, public = signing_key(tmp_path)
    forger, _ = signing_key(tmp_path)
    signed = manifest_copies(built, tmp_path, "tiny-llama", ("Q8_0", "Q4_K_M"))
    run([str(BIN / "modelprep"), "sign", "--key", str(key), *map(str, signed.values())], cwd=built)
    envelope = json.loads(provenance_path(signed["Q8_0"]).read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    manifest = Manifest.load(signed["Q8_0"])
    record = hashlib.sha256(record_bytes(manifest.record)).hexdigest()
    assert {s["name"]: s["digest"]["sha256"] for s in statement["subject"]} == {
        **{f.path: f.sha256 for f in manifest.files}, RECORD_FILE: record}
    inputs = {d["name"]: d for d in statement["predicate"]["buildDefinition"]["resolvedDependencies"]}
    for name in ("params.yaml", "dvc.lock"):
        assert inputs[name]["digest"]["sha256"] == hashlib.sha256((built / name).read_bytes()).hexdigest()
    for entry in manifest["source"]["files"]:
        assert inputs[f"model/{entry['path']}"]["digest"]["sha256"] == entry["sha256"]
    pinned = re.search(r"LLAMA_SDIST_SHA256 := (\w+)", (REPO / "Makefile").read_text())[1]
    assert inputs["llama-cpp-python sdist"]["digest"]["sha256"] == pinned
    assert inputs["llama.cpp"]["uri"].endswith("@" + manifest["tools"]["llama.cpp"])

    verify = [str(BIN / "modelprep"), "verify", "--trusted-key", public]
    shown = run([*verify, str(signed["Q8_0"])], cwd=built).stdout
    assert re.search(r"ok +provenance +built from .*, params.yaml [0-9a-f]{12}, 6 source-model files", shown)
    # Another package's provenance under this name, or one signed by an untrusted key: refused.
    shutil.copyfile(provenance_path(signed["Q4_K_M"]), provenance_path(signed["Q8_0"]))
    failed = run([*verify, str(signed["Q8_0"])], cwd=built, check=False)
    assert failed.returncode == 1 and "Q8_0.provenance.json describes other files than this package's" in failed.stdout
    run([str(BIN / "modelprep"), "sign", "--key", str(forger), str(signed["Q8_0"])], cwd=built)
    failed = run([*verify, str(signed["Q8_0"])], cwd=built, check=False)
    assert failed.returncode == 1
    assert "Q8_0.provenance.json carries no valid signature by a key --trusted-key trusts" in failed.stdout


def test_source_commit_is_the_last_commit_of_an_input_not_of_an_output(tmp_path):
    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                              capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "stage.py").write_text("print(1)\n")
    git("add", "."), git("commit", "-qm", "source")
    built_from = git("rev-parse", "HEAD")
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests/m.json").write_text("{}\n")
    (tmp_path / "dvc.lock").write_text("x\n")
    git("add", "."), git("commit", "-qm", "outputs")
    assert source_commit(tmp_path)["digest"] == {"gitCommit": built_from}
    assert source_commit(tmp_path)["annotations"] == {"uncommitted_changes": False}
    (tmp_path / "stage.py").write_text("print(2)\n")
    assert source_commit(tmp_path)["annotations"] == {"uncommitted_changes": True}


def test_a_policy_names_keys_and_keyless_identities(tmp_path):
    # Keyless (sigstore) signing needs sigstore's public services, out of reach here: only the policy
    # that names its identities is tested.
    from pipeline.manifest.trust import TrustPolicy

    _, public = signing_key(tmp_path)
    policy = tmp_path / "trusted-keys"
    policy.write_text(f"ecdsa-p256 {public} release key\n"
                      "sigstore ci@example.org https://token.actions.githubusercontent.com release workflow\n")
    loaded = TrustPolicy.load(tmp_path, [str(policy)])
    assert loaded.public_keys() == [public] and loaded.trusts(public)
    assert loaded.identities() == [("ci@example.org", "https://token.actions.githubusercontent.com")]
    policy.write_text("sigstore ci@example.org\n")
    with pytest.raises(ModelprepError, match=r"trusted-keys:1: expected 'sigstore <identity> <OIDC issuer>"):
        TrustPolicy.load(tmp_path, [str(policy)])
