"""Arweave's base64url without padding, and the 32-byte big-endian "note" its merkle tree hashes."""

from __future__ import annotations

import base64


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def note(value: int) -> bytes:
    return value.to_bytes(32, "big")
