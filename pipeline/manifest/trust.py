"""Whom a consumer trusts: the builders' public keys a manifest's or package's signature must be made with.

A policy is a text file of lines `<algorithm> <base64 public key> [comment]` (algorithms and key forms
in keys.py; blank lines and `#` comments ignored), as ssh's authorized_keys, and for keyless OpenSSF
package signatures `sigstore <identity> <OIDC issuer> [comment]` (the certificate identity Fulcio
issued, e.g. a CI workflow's or a person's address). It comes from, first
found: `--trusted-key` (repeatable; a base64 key or such a file), $MODELPREP_TRUSTED_KEYS (a file),
else `trusted-keys` at the root of the manifests folder, committed with the manifests: the project's
own builders. Keys a consumer names
replace that file rather than add to it: a registry's policy must not grow with whatever file came
beside the manifests it downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.fileio import write_text
from pipeline.manifest import keys

TRUST_ENV = "MODELPREP_TRUSTED_KEYS"
TRUST_HELP = ("a public key (base64, as `modelprep sign` prints it), or a trusted-keys file, whose signatures to "
              f"accept; repeatable (default: the file ${TRUST_ENV} names, else trusted-keys in the manifests folder)")
TRUSTED_KEYS_FILE = "trusted-keys"
SIGSTORE = "sigstore"  # a keyless identity's entry: "sigstore <identity> <issuer>"


def _named_key(text: str) -> str:
    """A key given alone on the command line: any algorithm it parses as."""
    if keys.parse_any(text) is None:
        raise ModelprepError("--trusted-key", f"{text[:60]!r} is neither a file nor a public key of "
                                              f"{', '.join(keys.ALGORITHMS)}")
    return text


def _read_file(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ModelprepError(path, "trusted-keys file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ModelprepError(path, f"cannot read the trusted keys: {getattr(err, 'strerror', None) or err}") from None
    found = {}
    for number, line in enumerate(lines, 1):
        fields = line.split(maxsplit=2)
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0] == SIGSTORE:
            identity = line.split(maxsplit=3)
            if len(identity) < 3:
                raise ModelprepError(f"{path}:{number}", "expected 'sigstore <identity> <OIDC issuer> [comment]'")
            found[f"{SIGSTORE} {identity[1]} {identity[2]}"] = identity[3] if len(identity) > 3 else ""
            continue
        if len(fields) < 2:
            raise ModelprepError(f"{path}:{number}", f"expected '<algorithm> <base64 public key> [comment]', found "
                                                     f"{line[:60]!r}")
        try:
            keys.load_public(fields[0], fields[1])
        except ValueError as err:
            raise ModelprepError(f"{path}:{number}", str(err)) from None
        found[fields[1]] = fields[2] if len(fields) > 2 else ""
    return found


@dataclass(frozen=True)
class TrustPolicy:
    keys: dict[str, str]  # base64 public key -> comment
    source: str  # where the keys came from, for messages

    @classmethod
    def load(cls, manifests_root: Path, named: list[str] | None = None) -> TrustPolicy:
        """The consumer's keys (`named`, else $MODELPREP_TRUSTED_KEYS), else the manifests' own file."""
        if named:
            found = {}
            for item in named:
                found |= _read_file(Path(item)) if Path(item).is_file() else {_named_key(item): ""}
            return cls(found, "--trusted-key")
        if os.environ.get(TRUST_ENV):
            return cls(_read_file(Path(os.environ[TRUST_ENV])), f"${TRUST_ENV} ({os.environ[TRUST_ENV]})")
        path = manifests_root / TRUSTED_KEYS_FILE
        return cls(_read_file(path) if path.is_file() else {}, str(path))

    def trusts(self, public_key: str) -> bool:
        return public_key in self.keys

    def public_keys(self) -> list[str]:
        """The trusted keys (base64), keyless identities aside."""
        return [entry for entry in self.keys if not entry.startswith(SIGSTORE + " ")]

    def identities(self) -> list[tuple[str, str]]:
        """The keyless (sigstore) identities and their OIDC issuers the policy trusts."""
        return [tuple(entry.split()[1:3]) for entry in self.keys if entry.startswith(SIGSTORE + " ")]

    def describe(self, public_key: str) -> str:
        comment = self.keys.get(public_key)
        name = public_key if public_key.startswith(SIGSTORE + " ") else keys.fingerprint(public_key)
        return name + (f" ({comment})" if comment else "")

    def refusal(self, algorithm: str, public_key: str) -> str:
        signed = f"signed by {algorithm} key {keys.fingerprint(public_key)}"
        if not self.keys:
            return (f"{signed}, but no key is trusted ({self.source} holds none): name the builders' keys with "
                    f"--trusted-key or ${TRUST_ENV}")
        return f"{signed}, which {self.source} does not trust"


def policy_for(manifest: str | Path, named: list[str] | None) -> TrustPolicy:
    """The policy a consumer checks `manifest` (manifests/<model>/<variant>.json) with."""
    return TrustPolicy.load(Path(manifest).resolve().parent.parent, named)


def add_trusted_key(path: Path, algorithm: str, public_key: str, comment: str) -> bool:
    """Append the key to the policy file (created if missing); False when it was there already."""
    keys = _read_file(path) if path.is_file() else {}
    if public_key in keys:
        return False
    existing = path.read_text(encoding="utf-8") if path.is_file() else (
        "# Public keys whose signatures consumers of these manifests accept (`modelprep sign --trust`\n"
        "# adds the signing key). One per line: <algorithm> <base64 public key> [comment]\n")
    write_text(path, existing + ("" if existing.endswith("\n") else "\n") + f"{algorithm} {public_key} {comment}\n")
    return True
