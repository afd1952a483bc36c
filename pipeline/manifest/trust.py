"""Whom a consumer trusts: the builders' Ed25519 public keys a manifest's signature must be made with.

A policy is a text file of lines `ed25519 <base64 public key> [comment]` (blank lines and `#` comments
ignored), as ssh's authorized_keys. It comes from, first found: `--trusted-key` (repeatable; a base64
key or such a file), $MODELPREP_TRUSTED_KEYS (a file), else `trusted-keys` at the root of the
manifests folder, committed with the manifests: the project's own builders. Keys a consumer names
replace that file rather than add to it: a registry's policy must not grow with whatever file came
beside the manifests it downloaded.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.fileio import write_text

TRUST_ENV = "MODELPREP_TRUSTED_KEYS"
TRUST_HELP = ("an Ed25519 public key (base64), or a trusted-keys file, whose signatures to accept; repeatable "
              f"(default: the file ${TRUST_ENV} names, else trusted-keys in the manifests folder)")
TRUSTED_KEYS_FILE = "trusted-keys"
ALGORITHM = "ed25519"
KEY_BYTES = 32


def parse_key(text: str, where: str) -> str:
    """A base64 Ed25519 public key, checked to be one."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ModelprepError(where, f"{text[:60]!r} is not base64") from None
    if len(raw) != KEY_BYTES:
        raise ModelprepError(where, f"{text[:60]!r} is {len(raw)} bytes, an Ed25519 public key is {KEY_BYTES}")
    return text


def _read_file(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ModelprepError(path, "trusted-keys file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ModelprepError(path, f"cannot read the trusted keys: {getattr(err, 'strerror', None) or err}") from None
    keys = {}
    for number, line in enumerate(lines, 1):
        fields = line.split(maxsplit=2)
        if not fields or fields[0].startswith("#"):
            continue
        where = f"{path}:{number}"
        if fields[0] != ALGORITHM or len(fields) < 2:
            raise ModelprepError(where, f"expected 'ed25519 <base64 public key> [comment]', found {line[:60]!r}")
        keys[parse_key(fields[1], where)] = fields[2] if len(fields) > 2 else ""
    return keys


@dataclass(frozen=True)
class TrustPolicy:
    keys: dict[str, str]  # base64 public key -> comment
    source: str  # where the keys came from, for messages

    @classmethod
    def load(cls, manifests_root: Path, named: list[str] | None = None) -> TrustPolicy:
        """The consumer's keys (`named`, else $MODELPREP_TRUSTED_KEYS), else the manifests' own file."""
        if named:
            keys = {}
            for item in named:
                keys |= _read_file(Path(item)) if Path(item).is_file() else {parse_key(item, "--trusted-key"): ""}
            return cls(keys, "--trusted-key")
        if os.environ.get(TRUST_ENV):
            return cls(_read_file(Path(os.environ[TRUST_ENV])), f"${TRUST_ENV} ({os.environ[TRUST_ENV]})")
        path = manifests_root / TRUSTED_KEYS_FILE
        return cls(_read_file(path) if path.is_file() else {}, str(path))

    def trusts(self, public_key: str) -> bool:
        return public_key in self.keys

    def refusal(self, public_key: str) -> str:
        if not self.keys:
            return (f"signed by ed25519 key {public_key}, but no key is trusted ({self.source} holds none): name the "
                    f"builders' keys with --trusted-key or ${TRUST_ENV}")
        return f"signed by ed25519 key {public_key}, which {self.source} does not trust"


def policy_for(manifest: str | Path, named: list[str] | None) -> TrustPolicy:
    """The policy a consumer checks `manifest` (manifests/<model>/<variant>.json) with."""
    return TrustPolicy.load(Path(manifest).resolve().parent.parent, named)


def add_trusted_key(path: Path, public_key: str, comment: str) -> bool:
    """Append the key to the policy file (created if missing); False when it was there already."""
    keys = _read_file(path) if path.is_file() else {}
    if public_key in keys:
        return False
    existing = path.read_text(encoding="utf-8") if path.is_file() else (
        "# Ed25519 public keys whose signatures consumers of these manifests accept (`modelprep sign --trust`\n"
        "# adds the signing key). One per line: ed25519 <base64 public key> [comment]\n")
    write_text(path, existing + ("" if existing.endswith("\n") else "\n") + f"{ALGORITHM} {public_key} {comment}\n")
    return True
