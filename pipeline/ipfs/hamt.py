"""HAMT-sharded directories, as boxo shards a directory past the threshold.

Each entry's name is hashed with murmur3 (x64, 128-bit, seed 0; its first 64 bits, big-endian);
every level of the trie takes the next 8 bits as the slot index (fanout 256). A slot holds the
entry itself when no other entry shares that prefix, else a sub-shard. A shard's links are named
by their slot in two upper-case hex digits, followed by the entry's name for entries; they are in
slot order. Its UnixFS Data: Type=HAMTShard, Data=the occupied-slot bitfield (big-endian, slot 0 the
lowest bit, leading zero bytes dropped), hashType=murmur3 (0x22), fanout.
"""

from __future__ import annotations

import struct

from pipeline.ipfs.cid import CID, DAG_PB, varint
from pipeline.ipfs.layout import BlockSink, DagNode
from pipeline.ipfs.profiles import Profile
from pipeline.ipfs.unixfs import Link, pb_node

FANOUT, MURMUR3_X64_64 = 256, 0x22
HAMT_SHARD = 5
_MASK = (1 << 64) - 1
_C1, _C2 = 0x87C37B91114253D5, 0x4CF5AD432745937F


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _MASK


def _fmix(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _MASK
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _MASK
    return k ^ (k >> 33)


def murmur3_64(data: bytes) -> bytes:
    """The first 64 bits of MurmurHash3 x64_128 (seed 0), big-endian, as Go's murmur3.New64 sums them."""
    h1 = h2 = 0
    blocks = len(data) // 16
    for k1, k2 in struct.iter_unpack("<QQ", data[:blocks * 16]):
        h1 ^= _rotl((k1 * _C1) & _MASK, 31) * _C2 & _MASK
        h1 = (_rotl(h1, 27) + h2) & _MASK
        h1 = (h1 * 5 + 0x52DCE729) & _MASK
        h2 ^= _rotl((k2 * _C2) & _MASK, 33) * _C1 & _MASK
        h2 = (_rotl(h2, 31) + h1) & _MASK
        h2 = (h2 * 5 + 0x38495AB5) & _MASK
    tail = data[blocks * 16:]
    k1 = int.from_bytes(tail[:8], "little")
    k2 = int.from_bytes(tail[8:], "little")
    if len(tail) > 8:
        h2 ^= _rotl((k2 * _C2) & _MASK, 33) * _C1 & _MASK
    if tail:
        h1 ^= _rotl((k1 * _C1) & _MASK, 31) * _C2 & _MASK
    h1 ^= len(data)
    h2 ^= len(data)
    h1 = (h1 + h2) & _MASK
    h2 = (h2 + h1) & _MASK
    h1, h2 = _fmix(h1), _fmix(h2)
    h1 = (h1 + h2) & _MASK
    return h1.to_bytes(8, "big")


def _shard_data(slots: list[int]) -> bytes:
    bits = 0
    for slot in slots:
        bits |= 1 << slot
    bitfield = bits.to_bytes(FANOUT // 8, "big").lstrip(b"\0")
    return (varint(1 << 3) + varint(HAMT_SHARD) + varint(2 << 3 | 2) + varint(len(bitfield)) + bitfield
            + varint(5 << 3) + varint(MURMUR3_X64_64) + varint(6 << 3) + varint(FANOUT))


def hamt_node(entries: list[tuple[str, DagNode]], profile: Profile, sink: BlockSink | None,
              depth: int = 0) -> DagNode:
    """The shard holding `entries` (their hashes agree on the first `depth` bytes)."""
    slots: dict[int, list[tuple[str, DagNode]]] = {}
    for name, node in entries:
        slots.setdefault(murmur3_64(name.encode("utf-8"))[depth], []).append((name, node))
    links = []
    for slot in sorted(slots):
        group = slots[slot]
        if len(group) == 1:
            name, node = group[0]
            links.append(Link(node.cid, f"{slot:02X}{name}", node.tsize))
        else:
            if depth + 1 == 8:
                raise ValueError("entries collide on all 64 hash bits")
            child = hamt_node(group, profile, sink, depth + 1)
            links.append(Link(child.cid, f"{slot:02X}", child.tsize))
    block = pb_node(links, _shard_data(sorted(slots)))
    cid = CID.of_block(block, profile.cid_version, DAG_PB)
    if sink:
        sink(cid, block)
    return DagNode(cid, len(block) + sum(link.tsize for link in links), sum(n.filesize for _, n in entries))
