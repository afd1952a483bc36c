"""Just enough IPLD for the test servers, written from the specs apart from pipeline/ipfs:
CID text and binary forms, CAR v1 sections, dag-pb links and UnixFS file data."""

from __future__ import annotations

import base64
import hashlib

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
RAW, DAG_PB = 0x55, 0x70


def uvarint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7


def put_uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def cid_text(binary: bytes) -> str:
    """CIDv1 in base32 (what Kubo prints for v1), CIDv0 in base58btc."""
    if binary[0] == 0x12:
        number, out = int.from_bytes(binary, "big"), ""
        while number:
            number, digit = divmod(number, 58)
            out = ALPHABET[digit] + out
        return out
    return "b" + base64.b32encode(binary).decode().lower().rstrip("=")


def cid_binary(text: str) -> bytes:
    if text.startswith("Qm"):
        number = 0
        for char in text:
            number = number * 58 + ALPHABET.index(char)
        return number.to_bytes(34, "big")
    body = text[1:].upper()
    return base64.b32decode(body + "=" * (-len(body) % 8))


def split_cid(binary: bytes) -> tuple[int, bytes, int]:
    """(codec, sha256 digest, length) of a binary CID at the start of `binary`."""
    if binary[0] == 0x12 and binary[1] == 0x20:
        return DAG_PB, binary[2:34], 34
    version, at = uvarint(binary, 0)
    codec, at = uvarint(binary, at)
    code, at = uvarint(binary, at)
    size, at = uvarint(binary, at)
    if version != 1 or code != 0x12 or size != 32:
        raise ValueError("not a sha2-256 CIDv1")
    return codec, binary[at:at + 32], at + 32


def key(binary: bytes) -> bytes:
    """Blocks are stored by multihash, as Kubo's blockstore does: CIDv0 and v1 of one block agree."""
    return split_cid(binary)[1]


def parse_car(data: bytes) -> tuple[list[bytes], dict[bytes, tuple[bytes, bytes]]]:
    """Roots (binary CIDs) and blocks {digest: (cid, block)}; a block that does not hash to its CID raises."""
    size, at = uvarint(data, 0)
    header = data[at:at + size]
    at += size
    roots = []
    marker = b"\xd8\x2a\x58"
    start = header.find(marker)
    while start >= 0:
        length = header[start + 3]
        roots.append(header[start + 5:start + 4 + length])  # skip the 0x00 multibase prefix
        start = header.find(marker, start + 4 + length)
    blocks = {}
    while at < len(data):
        size, at = uvarint(data, at)
        section = data[at:at + size]
        at += size
        _, digest, length = split_cid(section)
        block = section[length:]
        if hashlib.sha256(block).digest() != digest:
            raise ValueError(f"block {cid_text(section[:length])} does not hash to its CID")
        blocks[digest] = (section[:length], block)
    return roots, blocks


def fields(buffer: bytes) -> list[tuple[int, int | bytes]]:
    out, at = [], 0
    while at < len(buffer):
        tag, at = uvarint(buffer, at)
        if tag & 7 == 0:
            value, at = uvarint(buffer, at)
        else:
            size, at = uvarint(buffer, at)
            value, at = buffer[at:at + size], at + size
        out.append((tag >> 3, value))
    return out


def links(block: bytes) -> list[tuple[bytes, str]]:
    """(binary CID, name) of every link of a dag-pb node."""
    out = []
    for number, link in fields(block):
        if number == 2:
            parts = dict(fields(link))
            out.append((parts[1], parts.get(2, b"").decode()))
    return out


def file_bytes(blocks: dict[bytes, tuple[bytes, bytes]], cid: bytes) -> bytes:
    codec, digest, _ = split_cid(cid)
    block = blocks[digest][1]
    if codec == RAW:
        return block
    children = links(block)
    if children:
        return b"".join(file_bytes(blocks, child) for child, _ in children)
    data = dict(fields(dict(fields(block)).get(1, b"")))
    return data.get(2, b"")


def reachable(blocks: dict[bytes, tuple[bytes, bytes]], root: bytes) -> list[bytes]:
    """Digests of every block under `root`; a missing one raises KeyError."""
    seen, pending = [], [root]
    while pending:
        cid = pending.pop()
        codec, digest, _ = split_cid(cid)
        if digest in seen:
            continue
        block = blocks[digest][1]
        seen.append(digest)
        if codec == DAG_PB:
            pending += [child for child, _ in links(block)]
    return seen


def write_car(root: bytes, blocks: dict[bytes, tuple[bytes, bytes]]) -> bytes:
    cid = b"\0" + root
    header = b"\xa2\x65roots\x81\xd8\x2a\x58" + bytes([len(cid)]) + cid + b"\x67version\x01"
    out = put_uvarint(len(header)) + header
    for digest in reachable(blocks, root):
        binary, block = blocks[digest]
        out += put_uvarint(len(binary) + len(block)) + binary + block
    return out
