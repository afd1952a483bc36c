"""Content ids: CIDv0 (base58btc multihash) and CIDv1 (base32 `b...`), sha2-256 only, as Kubo's profiles use."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

DAG_PB, RAW = 0x70, 0x55
SHA2_256, DIGEST_SIZE = 0x12, 32
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def varint(value: int) -> bytes:
    """Unsigned LEB128, as multiformats and protobuf write integers."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_varint(data: bytes | memoryview, offset: int) -> tuple[int, int]:
    """The varint at `offset` and the offset after it."""
    value = shift = 0
    while True:
        if offset >= len(data):
            raise ValueError("truncated varint")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 64 bits")


def _base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, digit = divmod(number, 58)
        out = _BASE58[digit] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


@dataclass(frozen=True)
class CID:
    version: int
    codec: int
    digest: bytes  # sha2-256 of the block

    @classmethod
    def of_block(cls, block: bytes, version: int, codec: int) -> CID:
        # Raw blocks cannot be named by CIDv0 (it implies dag-pb), so Kubo names raw leaves with CIDv1.
        return cls(1 if codec == RAW else version, codec, hashlib.sha256(block).digest())

    @property
    def multihash(self) -> bytes:
        return bytes([SHA2_256, DIGEST_SIZE]) + self.digest

    def __bytes__(self) -> bytes:
        if self.version == 0:
            return self.multihash
        return varint(1) + varint(self.codec) + self.multihash

    def __str__(self) -> str:
        if self.version == 0:
            return _base58(self.multihash)
        return "b" + base64.b32encode(bytes(self)).decode("ascii").lower().rstrip("=")

    @classmethod
    def parse(cls, text: str) -> CID:
        """A CID in its text form: CIDv0 (base58btc `Qm...`) or CIDv1 in base32 (`b...`)."""
        if text.startswith("Qm") and len(text) == 46:
            number = 0
            for char in text:
                if char not in _BASE58:
                    raise ValueError(f"{text!r} is not base58btc")
                number = number * 58 + _BASE58.index(char)
            data = number.to_bytes(34, "big")
        elif text.startswith("b"):
            body = text[1:].upper()
            try:
                data = base64.b32decode(body + "=" * (-len(body) % 8))
            except ValueError:
                raise ValueError(f"{text!r} is not base32") from None
        else:
            raise ValueError(f"{text!r} is neither a CIDv0 nor a base32 CIDv1")
        cid, end = cls.read(data)
        if end != len(data):
            raise ValueError(f"{text!r} has bytes after the CID")
        return cid

    @classmethod
    def read(cls, data: bytes | memoryview, offset: int = 0) -> tuple[CID, int]:
        """A binary CID at `offset` (as CAR files hold them) and the offset after it."""
        if data[offset:offset + 2] == bytes([SHA2_256, DIGEST_SIZE]):
            end = offset + 2 + DIGEST_SIZE
            return cls(0, DAG_PB, bytes(data[offset + 2:end])), end
        version, offset = read_varint(data, offset)
        codec, offset = read_varint(data, offset)
        code, offset = read_varint(data, offset)
        size, offset = read_varint(data, offset)
        if version != 1 or code != SHA2_256 or size != DIGEST_SIZE:
            raise ValueError(f"unsupported CID (version {version}, multihash code {code:#x}, size {size})")
        return cls(1, codec, bytes(data[offset:offset + DIGEST_SIZE])), offset + DIGEST_SIZE
