"""data_root and chunk proofs (arweave-js `lib/merkle.ts`), from a stream in one pass.

Data is cut into 256 KiB chunks; when what would be left after a full chunk is under 32 KiB, the
last two chunks are balanced instead. Data of an exact multiple of 256 KiB ends with an empty
chunk: it counts in the tree (arweave-js hashes it in) but is never uploaded. Leaf id =
H(H(chunk hash) || H(note(end))); branch id = H(H(left) || H(right) || H(note(left end))); an odd
node is carried up a level unchanged. Only the leaves' hashes are kept, 64 bytes per chunk.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from pipeline.arweave.encoding import note

MAX_CHUNK_SIZE = 256 * 1024
MIN_CHUNK_SIZE = 32 * 1024


def _sha256(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def chunk_ranges(size: int) -> list[tuple[int, int]]:
    """(start, end) of every chunk of `size` bytes, the empty last one included."""
    ranges, cursor, rest = [], 0, size
    while rest >= MAX_CHUNK_SIZE:
        chunk = MAX_CHUNK_SIZE
        if 0 < rest - MAX_CHUNK_SIZE < MIN_CHUNK_SIZE:
            chunk = math.ceil(rest / 2)
        ranges.append((cursor, cursor + chunk))
        cursor, rest = cursor + chunk, rest - chunk
    ranges.append((cursor, cursor + rest))
    return ranges


@dataclass(frozen=True)
class _Node:
    id: bytes
    max_byte_range: int
    data_hash: bytes | None = None  # leaves only
    byte_range: int = 0  # branches: where the left child ends
    left: _Node | None = None
    right: _Node | None = None


class ChunkTree:
    def __init__(self, ranges: list[tuple[int, int]], data_hashes: list[bytes]):
        self.ranges = ranges
        leaves = [_Node(_sha256(_sha256(h), _sha256(note(end))), end, data_hash=h)
                  for (start, end), h in zip(ranges, data_hashes)]
        self.root = self._build(leaves)

    @classmethod
    def of_stream(cls, stream: BinaryIO, size: int) -> ChunkTree:
        ranges = chunk_ranges(size)
        hashes = []
        for start, end in ranges:
            chunk = stream.read(end - start)
            if len(chunk) != end - start:
                raise ValueError(f"stream ended at byte {start + len(chunk)} of {size}")
            hashes.append(_sha256(chunk))
        return cls(ranges, hashes)

    @staticmethod
    def _build(nodes: list[_Node]) -> _Node:
        while len(nodes) > 1:
            layer = []
            for left, right in zip(nodes[::2], nodes[1::2] + [None]):
                if right is None:
                    layer.append(left)
                else:
                    layer.append(_Node(_sha256(_sha256(left.id), _sha256(right.id), _sha256(note(left.max_byte_range))),
                                       right.max_byte_range, byte_range=left.max_byte_range, left=left, right=right))
            nodes = layer
        return nodes[0]

    @property
    def data_root(self) -> bytes:
        return self.root.id

    def chunk_proofs(self) -> Iterator[tuple[int, int, bytes]]:
        """(start, end, data_path) of each chunk to upload, in order; an empty last chunk is never uploaded."""
        for (start, end), proof in zip(self.ranges, self._leaf_proofs()):
            if end > start:
                yield start, end, proof

    def _leaf_proofs(self) -> Iterator[bytes]:
        """Each leaf's data_path, left to right: sibling ids and split points from the root down, then the
        leaf's chunk hash and end."""
        stack: list[tuple[_Node, bytes]] = [(self.root, b"")]
        while stack:
            node, path = stack.pop()
            if node.data_hash is not None:
                yield path + node.data_hash + note(node.max_byte_range)
                continue
            branch = path + node.left.id + node.right.id + note(node.byte_range)
            stack += [(node.right, branch), (node.left, branch)]
