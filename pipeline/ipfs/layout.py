"""The balanced layout, as boxo builds it: chunks become leaves, leaves fill parents of at most
`max_links` children, and a new root level is added whenever the current root is full.

The builder is pushed bytes (`update`) and cuts them into the profile's chunks itself, so several
builders (one per import profile, and a sha256) can share one read of a file. Every block goes to
`sink(cid, block)` as soon as it is made (a CAR writer, a counter, or nothing when only the CID is
wanted); only the unfinished parents of the right edge are held (one list per level), so memory
stays at one chunk plus at most `max_links` links per level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
        self.pending = bytearray()  # bytes of the chunk being filled
        self.levels: list[list[DagNode]] = [[]]  # levels[i]: finished nodes of depth i waiting for a parent
        self.chunks = 0

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

    def update(self, data: bytes) -> None:
        """More of the file's bytes; every full chunk becomes a leaf at once."""
        self.pending += data
        size = self.profile.chunk_size
        while len(self.pending) >= size:
            self._add_leaf(bytes(self.pending[:size]))
            del self.pending[:size]

    def _add_leaf(self, chunk: bytes) -> None:
        self.chunks += 1
        self.levels[0].append(self.leaf(chunk))
        depth = 0
        while len(self.levels[depth]) == self.profile.max_links:  # a full parent: close it now
            if depth + 1 == len(self.levels):
                self.levels.append([])
            self.levels[depth + 1].append(self.parent(self.levels[depth]))
            self.levels[depth] = []
            depth += 1

    def finish(self) -> DagNode:
        """The file's root: the last chunk (an empty file is one empty chunk) closes the right edge, lowest
        level first, as boxo's balanced builder closes it."""
        if self.pending or not self.chunks:
            self._add_leaf(bytes(self.pending))
            self.pending.clear()
        for depth, nodes in enumerate(self.levels):
            if depth == len(self.levels) - 1:
                return nodes[0] if len(nodes) == 1 else self.parent(nodes)
            if nodes:
                self.levels[depth + 1].append(self.parent(nodes))
        raise AssertionError("unreachable: the top level returns")
