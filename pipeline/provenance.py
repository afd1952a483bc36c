"""Signed provenance of each package: an in-toto statement (v1) with the SLSA v1 provenance predicate,
in a DSSE envelope signed with the builder's key, in `manifests/<model>/<variant>.provenance.json`.

It names what the package was built from and with: the source commit (the newest commit that
changed a build input (anything but the committed outputs: manifests/ and dvc.lock),
so committing the outputs does not move it; `uncommitted_changes` when the
inputs differ from it), the sha256 of params.yaml and dvc.lock, every source-model file with its
sha256, the llama.cpp source (the pinned llama-cpp-python sdist's sha256 and the llama.cpp commit it
vendors), the tool versions and the builder. It holds no times or local paths, so the same inputs
give the same statement and, with deterministic ECDSA, the same envelope.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from pipeline.errors import ModelprepError
from pipeline.fileio import dumps_json, read_json, sha256_file, write_json
from pipeline.layout import Layout
from pipeline.manifest import keys
from pipeline.manifest.document import Manifest, sidecar
from pipeline.manifest.trust import TrustPolicy
from pipeline.package import Release
from pipeline.toolchain import (
    LLAMA_CPP_PYTHON_VERSION,
    llama_cpp_commit,
    llama_cpp_tree,
)
from pipeline.workspace import COMMITTED_OUTPUTS

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:modelprep:build-type:release:v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"


def provenance_path(manifest: Path) -> Path:
    return sidecar(manifest, "provenance")


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def source_commit(root: Path) -> dict[str, Any]:
    """The newest commit that changed a build input (anything but the committed outputs), and whether the
    working tree's inputs differ from it."""
    inputs = [".", *(f":(exclude){o}" for o in COMMITTED_OUTPUTS)]
    commit = _git(root, "log", "-1", "--format=%H", "--", *inputs)
    changed = bool(_git(root, "status", "--porcelain", "--untracked-files=no", "--", *inputs)) or not commit
    remote = _git(root, "config", "--get", "remote.origin.url")
    # Only a network remote names the source for someone else; a clone of a local folder would make the
    # statement (and its signature) depend on where that folder was.
    shared = re.match(r"[a-z][a-z0-9+.-]*://(?!/)|[^/:]+@[^/:]+:", remote) and not remote.startswith("file:")
    entry = {"name": "modelprep source", "uri": f"git+{remote}" if shared else "git+file:.",
             "annotations": {"uncommitted_changes": changed}}
    return entry | ({"digest": {"gitCommit": commit}} if commit else {})


def _source_model(manifest: Manifest) -> list[dict[str, Any]]:
    source = manifest["source"]
    origin = source.get("origin", {})
    at = f"hf://{origin['id']}@{origin.get('revision', 'main')}/" if origin.get("kind") == "hub" else ""
    return [{"name": f"model/{f['path']}", "digest": {"sha256": f["sha256"]}} | ({"uri": at + f["path"]} if at
                                                                                  else {})
            for f in source["files"]]


def _llama_cpp() -> list[dict[str, Any]]:
    sdist = llama_cpp_tree().parent.parent.parent / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"
    if not sdist.is_file():
        raise ModelprepError(sdist, "the pinned llama-cpp-python sdist is missing; run `make setup`")
    return [{"name": "llama-cpp-python sdist", "uri": f"pkg:pypi/llama-cpp-python@{LLAMA_CPP_PYTHON_VERSION}",
             "digest": {"sha256": sha256_file(sdist)}},
            {"name": "llama.cpp", "uri": f"git+https://github.com/ggml-org/llama.cpp@{llama_cpp_commit()}"}]


def _project_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelprepError(path, "missing: sign in the project that built the release")
    return {"name": path.name, "digest": {"sha256": sha256_file(path)}}


def statement(manifest: Manifest, layout: Layout) -> dict[str, Any]:
    release = Release.of(manifest, need_local_files=False)
    inputs = [source_commit(layout.root), _project_file(layout.root / "params.yaml"),
              _project_file(layout.root / "dvc.lock"), *_source_model(manifest), *_llama_cpp()]
    identity = manifest["identity"]
    return {"_type": STATEMENT_TYPE, "predicateType": PREDICATE_TYPE,
            "subject": [{"name": f.name, "digest": {"sha256": f.sha256}} for f in release.files],
            "predicate": {
                "buildDefinition": {"buildType": BUILD_TYPE,
                                    "externalParameters": {"model": manifest.model, "variant": manifest.variant},
                                    "internalParameters": {"tools": manifest["tools"]},
                                    "resolvedDependencies": inputs},
                "runDetails": {"builder": {"id": f"urn:modelprep:builder:{quote(identity['built_by'])}",
                                           "version": {"modelprep": identity["tool"]}},
                               "metadata": {}}}}


def _pae(payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature covers."""
    kind = PAYLOAD_TYPE.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def sign_provenance(manifest: Manifest, layout: Layout, key: ec.EllipticCurvePrivateKey) -> Path:
    payload = dumps_json(statement(manifest, layout)).encode()
    public = keys.public_text(key.public_key())
    path = provenance_path(manifest.path)
    write_json(path, {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
                      "signatures": [{"keyid": keys.fingerprint(public),
                                      "sig": base64.b64encode(keys.sign(key, _pae(payload))).decode()}]})
    return path


def check_provenance(manifest: Manifest, policy: TrustPolicy) -> tuple[bool, str]:
    """Whether the provenance envelope is signed by a trusted key and its subject is this package."""
    path = provenance_path(manifest.path)
    if not path.is_file():
        return False, f"no {path.name} (run `modelprep sign`)"
    try:
        envelope = read_json(path)
        payload = base64.b64decode(envelope["payload"])
        signatures = [(s["keyid"], base64.b64decode(s["sig"])) for s in envelope["signatures"]]
        data = json.loads(payload)
    except (KeyError, TypeError, ValueError) as err:
        return False, f"{path.name} is malformed: {type(err).__name__} {err}"
    by_id = {keys.fingerprint(text): text for text in policy.public_keys()}
    signer = None
    for keyid, signature in signatures:
        parsed = keys.parse_any(by_id.get(keyid, ""))
        try:
            if parsed and envelope.get("payloadType") == PAYLOAD_TYPE:
                keys.verify(parsed[1], signature, _pae(payload))
                signer = by_id[keyid]
        except InvalidSignature:
            continue
    if signer is None:
        return False, f"{path.name} carries no valid signature by a key {policy.source} trusts"
    subject = {s["name"]: s["digest"]["sha256"] for s in data.get("subject", [])}
    expected = {f.name: f.sha256 for f in Release.of(manifest, need_local_files=False).files}
    if data.get("predicateType") != PREDICATE_TYPE or subject != expected:
        return False, f"{path.name} describes other files than this package's"
    inputs = {d["name"]: d for d in data["predicate"]["buildDefinition"]["resolvedDependencies"]}
    source = inputs.get("modelprep source", {})
    commit = source.get("digest", {}).get("gitCommit", "no commit")
    dirty = " with uncommitted changes" if source.get("annotations", {}).get("uncommitted_changes") else ""
    models = sum(1 for name in inputs if name.startswith("model/"))
    return True, (f"built from {commit[:12]}{dirty}, params.yaml {inputs['params.yaml']['digest']['sha256'][:12]}, "
                  f"{models} source-model files, {inputs['llama.cpp']['uri'].rsplit('@', 1)[-1]} llama.cpp; "
                  f"signed by trusted key {policy.describe(signer)}")
