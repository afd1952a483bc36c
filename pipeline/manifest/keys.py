"""The builder's signing keys, described once: each algorithm's name, how its public key is written, how
it signs and verifies.

Builders sign with ECDSA on P-256, P-384 or P-521, the curves OpenSSF model signing takes, so one key
signs both the manifest and the package. ECDSA signatures here are deterministic (RFC 6979): the
same key over the same manifest gives the same bytes, so a rebuild reproduces its signatures.
Ed25519 signatures (modelprep's earlier manifests) still verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = "ed25519"
SIGNING_CURVES = "ECDSA P-256, P-384 or P-521"


@dataclass(frozen=True)
class Algorithm:
    name: str  # as trusted-keys files and signature records write it
    curve: type[ec.EllipticCurve] | None  # None: Ed25519
    digest: type[hashes.HashAlgorithm] | None


ALGORITHMS = {a.name: a for a in (
    Algorithm(ED25519, None, None),
    Algorithm("ecdsa-p256", ec.SECP256R1, hashes.SHA256),  # the hash model-signing pairs with each curve
    Algorithm("ecdsa-p384", ec.SECP384R1, hashes.SHA384),
    Algorithm("ecdsa-p521", ec.SECP521R1, hashes.SHA512),
)}
PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey


def algorithm_of(key: PublicKey) -> Algorithm | None:
    if isinstance(key, Ed25519PublicKey):
        return ALGORITHMS[ED25519]
    return next((a for a in ALGORITHMS.values() if a.curve and isinstance(key.curve, a.curve)), None)


def public_text(key: PublicKey) -> str:
    """Base64 of the raw key (Ed25519) or of its DER SubjectPublicKeyInfo (ECDSA)."""
    if isinstance(key, Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        raw = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(raw).decode()


def fingerprint(text: str) -> str:
    """A short name of a public key for messages, as ssh-keygen -l prints: SHA256 of its bytes."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(base64.b64decode(text)).digest()).decode().rstrip("=")


def public_pem(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public(algorithm: str, text: str) -> PublicKey:
    """The public key `text` of `algorithm`; ValueError saying what is wrong."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{text[:60]!r} is not base64") from None
    if algorithm == ED25519:
        if len(raw) != 32:
            raise ValueError(f"{text[:60]!r} is {len(raw)} bytes, an Ed25519 public key is 32")
        return Ed25519PublicKey.from_public_bytes(raw)
    try:
        key = serialization.load_der_public_key(raw)
    except ValueError:
        raise ValueError(f"{text[:60]!r} is not a DER public key") from None
    if not (isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ALGORITHMS[algorithm].curve)):
        raise ValueError(f"{text[:60]!r} is not an {algorithm} key")
    return key


def parse_any(text: str) -> tuple[Algorithm, PublicKey] | None:
    """The algorithm and key a bare base64 public key is, if it is one."""
    for algorithm in ALGORITHMS.values():
        try:
            return algorithm, load_public(algorithm.name, text)
        except ValueError:
            continue
    return None


def sign(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    if isinstance(key, Ed25519PrivateKey):
        return key.sign(data)
    digest = algorithm_of(key.public_key()).digest
    return key.sign(data, ec.ECDSA(digest(), deterministic_signing=True))


def verify(key: PublicKey, signature: bytes, data: bytes) -> None:
    """Raises cryptography's InvalidSignature when `signature` is not `key`'s over `data`."""
    if isinstance(key, Ed25519PublicKey):
        key.verify(signature, data)
    else:
        key.verify(signature, data, ec.ECDSA(algorithm_of(key).digest()))


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())
