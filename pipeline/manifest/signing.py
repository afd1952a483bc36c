"""Signed manifests: the builder's signature over the manifest's exact bytes, in `<variant>.sig.json`.

Detached, beside the manifest, for the same reason pins are: the manifest is a DVC output rebuilt
byte for byte, the signature says who vouches for it. Manifests are written with sorted keys and
fixed indentation, so the signed bytes are the canonical form.

The key is the builder's: a PKCS#8 PEM ECDSA private key (keys.py) named by MODELPREP_SIGNING_KEY or
`--key`; without either, `modelprep sign` uses (and on first use creates, mode 0600, on P-256) the
user's own key at ~/.config/modelprep/signing-key.pem, as ssh-keygen does for ssh. The same key
signs the package (openssf.py). The key never appears in output; the public key does. Consumers
accept a signature only from a key of their trust policy (trust.py), and only for the manifest at
the path it names: a manifest and its signature copied under another model's or variant's name are
refused.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pipeline.errors import ModelprepError
from pipeline.fileio import read_json, write_json
from pipeline.manifest import keys
from pipeline.manifest.document import Manifest, sidecar
from pipeline.manifest.trust import TrustPolicy

KEY_ENV = "MODELPREP_SIGNING_KEY"


def default_key_path() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "modelprep" / "signing-key.pem"


def signature_path(manifest: Path) -> Path:
    return sidecar(manifest, "signature")


def load_key(path: Path | None = None, create: bool = False) -> tuple[ec.EllipticCurvePrivateKey, Path]:
    """The signing key named by `path`, else by $MODELPREP_SIGNING_KEY, else the user's default key."""
    path = path or (Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else default_key_path())
    if not path.exists() and create and path == default_key_path():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = keys.new_private_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption())
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(pem)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as err:
        raise ModelprepError(path, f"cannot read the signing key: {err.strerror}") from None
    except (ValueError, TypeError):
        raise ModelprepError(path, "not an unencrypted PEM private key") from None
    if not (isinstance(key, ec.EllipticCurvePrivateKey) and keys.algorithm_of(key.public_key())):
        kind = type(key).__name__.removeprefix("_")
        kind += f" on {key.curve.name}" if isinstance(key, ec.EllipticCurvePrivateKey) else ""
        raise ModelprepError(path, f"the signing key must be {keys.SIGNING_CURVES} (OpenSSF model signing takes "
                                   f"no other), not {kind}; move it aside and `modelprep sign` makes a P-256 key")
    return key, path


def sign_manifest(manifest: Manifest, key: ec.EllipticCurvePrivateKey) -> Path:
    path = signature_path(manifest.path)
    public = key.public_key()
    write_json(path, {"algorithm": keys.algorithm_of(public).name, "manifest": manifest.path.name,
                      "manifest_sha256": manifest.sha256, "public_key": keys.public_text(public),
                      "signature": base64.b64encode(keys.sign(key, manifest.raw)).decode()})
    return path


def check_signature(manifest: Manifest, policy: TrustPolicy) -> tuple[bool, str]:
    """Whether the manifest's bytes carry a valid signature by a key the policy trusts, for the name it
    lies under; and what was found."""
    path = signature_path(manifest.path)
    if not path.is_file():
        return False, f"not signed (no {path.name}; run `modelprep sign`)"
    signature = read_json(path)
    try:
        algorithm, text = signature["algorithm"], signature["public_key"]
        keys.verify(keys.load_public(algorithm, text), base64.b64decode(signature["signature"]), manifest.raw)
    except (KeyError, ValueError, TypeError) as err:
        return False, f"{path.name} is malformed: {type(err).__name__} {err}"
    except InvalidSignature:
        return False, f"the signature in {path.name} does not match the manifest's bytes"
    if not policy.trusts(text):
        return False, policy.refusal(algorithm, text)
    # The signed bytes name the model and variant; the path must be theirs.
    named = f"{manifest.model}/{manifest.variant}.json"
    if f"{manifest.path.parent.name}/{manifest.path.name}" != named or signature.get("manifest") != manifest.path.name:
        return False, f"signed for {named}, found at {manifest.path.parent.name}/{manifest.path.name}"
    return True, f"signed by trusted {algorithm} key {policy.describe(text)}"
