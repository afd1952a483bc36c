"""CAR v1 files: a dag-cbor header naming the root, then every block as varint(len) || CID || block.

The writer streams blocks as the importer makes them (each block once) and fills in the header at
the end, when the root is known; its size depends only on the CID version, so it is reserved first.
The reader streams one section at a time and re-hashes every block against its CID; to verify, it
also walks the links from the root, so a missing block fails too.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from pipeline.errors import ModelprepError
from pipeline.fileio import atomic_path
from pipeline.ipfs.cid import CID, DAG_PB, RAW, read_varint, varint
from pipeline.ipfs.directory import add_path
from pipeline.ipfs.layout import DagNode
from pipeline.ipfs.profiles import Profile


def _header(root: CID) -> bytes:
    # dag-cbor {"roots": [CID], "version": 1}: map(2), keys in canonical order (shorter first); a CID
    # is tag 42 around a byte string of 0x00 followed by the binary CID.
    cid = b"\0" + bytes(root)
    body = (b"\xa2" + b"\x65roots" + b"\x81" + b"\xd8\x2a" + b"\x58" + bytes([len(cid)]) + cid
            + b"\x67version" + b"\x01")
    return varint(len(body)) + body


class CarWriter:
    """Writes a CAR to `handle`, or with none only counts its blocks and bytes (a CAR's size is known
    without writing it)."""

    def __init__(self, handle: BinaryIO | None, cid_version: int):
        self.handle = handle
        self.header_size = len(_header(CID(cid_version, DAG_PB, bytes(32))))
        if handle:
            handle.write(bytes(self.header_size))
        self.seen: set[bytes] = set()
        self.blocks, self.size = 0, self.header_size

    def add(self, cid: CID, block: bytes) -> None:
        key = bytes(cid)
        if key in self.seen:  # identical chunks are one block
            return
        self.seen.add(key)
        section = varint(len(key) + len(block)) + key + block
        if self.handle:
            self.handle.write(section)
        self.blocks += 1
        self.size += len(section)

    def finish(self, root: CID) -> None:
        header = _header(root)
        if len(header) != self.header_size:
            raise ValueError("root CID version differs from the one the header was reserved for")
        if self.handle:
            self.handle.seek(0)
            self.handle.write(header)


def write_car(path: Path, profile: Profile, out: Path, wrap: bool = False) -> tuple[DagNode, int]:
    """CAR of `path` added under `profile`; the root node and the number of blocks."""
    with atomic_path(out) as tmp, open(tmp, "wb") as handle:
        writer = CarWriter(handle, profile.cid_version)
        root = add_path(path, profile, writer.add, wrap)
        writer.finish(root.cid)
    return root, writer.blocks


def _read_varint(handle: BinaryIO) -> int | None:
    """A varint from the stream, or None at a clean end of the stream."""
    value = shift = 0
    while True:
        byte = handle.read(1)
        if not byte:
            if shift:
                raise ValueError("truncated varint")
            return None
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
        shift += 7


def _read_section(handle: BinaryIO, size: int, what: str) -> bytes:
    """`size` bytes, refused before reading when the file holds fewer (a hostile length is not allocated)."""
    left = os.fstat(handle.fileno()).st_size - handle.tell()
    if size > left:
        raise ValueError(f"{what} of {size} bytes runs past the end of the file ({left} bytes left)")
    return handle.read(size)


def _read_header(handle: BinaryIO, path: Path) -> list[CID]:
    try:
        size = _read_varint(handle)
        if size is None:
            raise ValueError("empty file")
        return _roots(_read_section(handle, size, "header"))
    except (ValueError, IndexError) as err:
        raise ModelprepError(path, f"not a CAR v1 file: {err}") from None


def car_roots(path: Path) -> list[str]:
    """The root CIDs a CAR's header names (its blocks are not read)."""
    with open(path, "rb") as handle:
        return [str(root) for root in _read_header(handle, path)]


def read_car(path: Path) -> tuple[list[CID], Iterator[tuple[CID, bytes]]]:
    """The roots and the blocks of a CAR, read one section at a time (memory stays at one block);
    every block is re-hashed as it is read."""
    handle = open(path, "rb")  # closed by _blocks when the caller has read them all
    try:
        roots = _read_header(handle, path)
    except ModelprepError:
        handle.close()
        raise
    return roots, _blocks(path, handle)


def _roots(header: bytes) -> list[CID]:
    if not header.startswith(b"\xa2\x65roots") or not header.endswith(b"\x67version\x01"):
        raise ValueError("header is not {roots, version: 1}")
    count, offset = header[7] & 0x1F, 8
    roots = []
    for _ in range(count):
        if header[offset:offset + 2] != b"\xd8\x2a" or header[offset + 2] != 0x58 or header[offset + 4] != 0:
            raise ValueError("root is not a tag-42 CID")
        length = header[offset + 3]
        roots.append(CID.read(header, offset + 5)[0])
        offset += 4 + length
    return roots


def _blocks(path: Path, handle: BinaryIO) -> Iterator[tuple[CID, bytes]]:
    with handle:
        while True:
            offset = handle.tell()
            try:
                size = _read_varint(handle)
                if size is None:
                    return
                section = _read_section(handle, size, "section")
                cid, start = CID.read(section)
            except ValueError as err:
                raise ModelprepError(path, f"section at byte {offset} is malformed: {err}") from None
            block = section[start:]
            if hashlib.sha256(block).digest() != cid.digest:
                raise ModelprepError(path, f"block {cid} at byte {offset} does not hash to its CID")
            yield cid, block


def _fields(buffer: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message: ints for varints, bytes for length-delimited fields."""
    offset = 0
    while offset < len(buffer):
        key, offset = read_varint(buffer, offset)
        if key & 7 == 0:
            value, offset = read_varint(buffer, offset)
        elif key & 7 == 2:
            size, offset = read_varint(buffer, offset)
            value, offset = buffer[offset:offset + size], offset + size
        else:
            raise ValueError(f"protobuf wire type {key & 7} does not occur in dag-pb")
        yield key >> 3, value


def pb_links(block: bytes) -> list[CID]:
    """The CIDs a dag-pb block links to (PBNode field 2 is a PBLink, whose field 1 is the CID)."""
    return [CID.read(value)[0] for number, link in _fields(block) if number == 2
            for inner, value in _fields(link) if inner == 1]


def verify_car(path: Path) -> tuple[CID, int]:
    """Re-hash every block and check the DAG under the (single) root is complete; the root and block count."""
    roots, blocks = read_car(path)
    if len(roots) != 1:
        raise ModelprepError(path, f"expected one root, found {len(roots)}")
    # Only the links are kept, never the blocks, so a CAR of any size verifies in little memory.
    links: dict[bytes, list[CID]] = {}
    for cid, block in blocks:
        if cid.codec not in (DAG_PB, RAW):
            raise ModelprepError(path, f"block {cid} has codec {cid.codec:#x}; UnixFS uses dag-pb and raw")
        links[cid.multihash] = pb_links(block) if cid.codec == DAG_PB else []
    pending, seen = [roots[0]], set()
    while pending:
        cid = pending.pop()
        if cid.multihash in seen:
            continue
        seen.add(cid.multihash)
        if cid.multihash not in links:
            raise ModelprepError(path, f"block {cid} is linked from the DAG but missing from the CAR")
        pending.extend(links[cid.multihash])
    return roots[0], len(links)
