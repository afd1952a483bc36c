"""An Arweave wallet: an RSA key in JWK form (kty RSA; n, e, d, p, q, dp, dq, qi in base64url).

Signatures are RSA-PSS with SHA-256 and MGF1-SHA-256, salt length 32 (what the Erlang node and
arweave-js's web driver sign with; arweave-js in node signs with the maximum, and every verifier
reads the salt length from the signature). The address is base64url(sha256(n)). The key is never printed:
errors name the file and the problem only.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pipeline.arweave.encoding import b64url, b64url_decode
from pipeline.errors import ModelprepError

SALT_LENGTH = 32
_FIELDS = ("n", "e", "d", "p", "q", "dp", "dq", "qi")


def _int(jwk: dict, name: str) -> int:
    return int.from_bytes(b64url_decode(jwk[name]), "big")


def owner_address(owner: bytes) -> str:
    return b64url(hashlib.sha256(owner).digest())


def verify(owner: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is the owner's RSA-PSS signature of `message` (any salt length)."""
    key = rsa.RSAPublicNumbers(65537, int.from_bytes(owner, "big")).public_key()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    try:
        key.verify(signature, message, pss, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


class Wallet:
    def __init__(self, jwk: dict, where: str | Path):
        try:
            if jwk.get("kty") != "RSA":
                raise ValueError("kty is not RSA")
            public = rsa.RSAPublicNumbers(_int(jwk, "e"), _int(jwk, "n"))
            numbers = rsa.RSAPrivateNumbers(_int(jwk, "p"), _int(jwk, "q"), _int(jwk, "d"), _int(jwk, "dp"),
                                            _int(jwk, "dq"), _int(jwk, "qi"), public)
            self._key = numbers.private_key()
        except (KeyError, ValueError, TypeError) as err:
            missing = [f for f in _FIELDS if f not in jwk] if isinstance(jwk, dict) else list(_FIELDS)
            problem = f"missing {', '.join(missing)}" if missing else f"{type(err).__name__}"
            raise ModelprepError(where, f"not an Arweave JWK wallet (RSA key): {problem}") from None
        self.owner = b64url_decode(jwk["n"])
        self.address = owner_address(self.owner)

    @classmethod
    def load(cls, path: Path) -> Wallet:
        try:
            jwk = json.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise ModelprepError(path, f"cannot read the wallet: {err.strerror}") from None
        except ValueError:
            raise ModelprepError(path, "the wallet is not JSON (expected an Arweave JWK file)") from None
        return cls(jwk if isinstance(jwk, dict) else {}, path)

    @classmethod
    def from_text(cls, text: str, where: str) -> Wallet:
        try:
            jwk = json.loads(text)
        except ValueError:
            raise ModelprepError(where, "the wallet is not JSON (expected an Arweave JWK)") from None
        return cls(jwk if isinstance(jwk, dict) else {}, where)

    def sign(self, message: bytes, salt_length: int = SALT_LENGTH) -> bytes:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt_length)
        return self._key.sign(message, pss, hashes.SHA256())


def new_jwk() -> dict[str, str]:
    """A new 4096-bit wallet as a JWK, as arweave-js's wallets.generate() makes one."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    numbers = key.private_numbers()

    def encode(value: int) -> str:
        return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "e": encode(numbers.public_numbers.e), "n": encode(numbers.public_numbers.n),
            "d": encode(numbers.d), "p": encode(numbers.p), "q": encode(numbers.q), "dp": encode(numbers.dmp1),
            "dq": encode(numbers.dmq1), "qi": encode(numbers.iqmp)}
