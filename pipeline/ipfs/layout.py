"""The balanced layout, as boxo builds it: chunks become leaves, leaves fill parents of at most
`max_links` children, and a new root level is added whenever the current root is full.

Every block goes to `sink(cid, block)` as soon as it is made (a CAR writer, or nothing when only the
CID is wanted); only one path of unfinished parents is held, so memory stays constant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.ipfs.chunker import FixedSizeChunker
from pipeline.ipfs.cid import CID, DAG_PB, RAW
from pipeline.ipfs.profiles import Profile
from pipeline.ipfs.unixfs import Link, file_data, pb_node

BlockSink = Callable[[CID, bytes], None]


@dataclass(frozen=True)
class DagNode:
    cid: CID
    tsize: int  # encoded size of this block and everything below it
    filesize: int  # file bytes below it


class FileBuilder:
    def __init__(self, profile: Profile, sink: BlockSink | None):
        self.profile, self.sink = profile, sink

    def _emit(self, block: bytes, codec: int) -> CID:
        cid = CID.of_block(block, self.profile.cid_version, codec)
        if self.sink:
            self.sink(cid, block)
        return cid

    def leaf(self, chunk: bytes) -> DagNode:
        if self.profile.raw_leaves:
            return DagNode(self._emit(chunk, RAW), len(chunk), len(chunk))
        block = pb_node([], file_data(chunk, len(chunk), []))
        return DagNode(self._emit(block, DAG_PB), len(block), len(chunk))

    def parent(self, children: list[DagNode]) -> DagNode:
        filesize = sum(c.filesize for c in children)
        block = pb_node([Link(c.cid, "", c.tsize) for c in children],
                        file_data(None, filesize, [c.filesize for c in children]))
        return DagNode(self._emit(block, DAG_PB), len(block) + sum(c.tsize for c in children), filesize)

    def build(self, chunks: FixedSizeChunker) -> DagNode:
        root = self.leaf(chunks.next_chunk())
        depth = 1
        while not chunks.done():
            root = self._fill([root], depth, chunks)
            depth += 1
        return root

    def _fill(self, children: list[DagNode], depth: int, chunks: FixedSizeChunker) -> DagNode:
        """A parent holding `children` plus as many subtrees `depth` deep as fit and data allows."""
        while len(children) < self.profile.max_links and not chunks.done():
            child = self.leaf(chunks.next_chunk()) if depth == 1 else self._fill([], depth - 1, chunks)
            children.append(child)
        return self.parent(children)
