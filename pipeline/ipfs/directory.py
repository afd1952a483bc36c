"""Files and directory trees added as `ipfs add` (and `-r`, `-w`) adds them.

A directory is a basic UnixFS directory (named links sorted by name bytes) until its estimated size
is strictly over the profile's threshold; then it is a HAMT shard (`hamt`), as Kubo makes it.
Hidden entries (names starting with a dot) are left out, as Kubo leaves them out without --hidden.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from pipeline.errors import ModelprepError
from pipeline.ipfs.cid import CID, DAG_PB
from pipeline.ipfs.hamt import hamt_node
from pipeline.ipfs.layout import BlockSink, DagNode, FileBuilder
from pipeline.ipfs.profiles import Profile
from pipeline.ipfs.unixfs import DIRECTORY_DATA, Link, pb_node


def add_stream(stream: BinaryIO, profile: Profile, sink: BlockSink | None = None) -> DagNode:
    """The file DAG of a byte stream, read in the profile's chunk size."""
    builder = FileBuilder(profile, sink)
    while data := stream.read(profile.chunk_size):
        builder.update(data)
    return builder.finish()


def add_file(path: Path, profile: Profile, sink: BlockSink | None = None) -> DagNode:
    with open(path, "rb") as stream:
        return add_stream(stream, profile, sink)


def directory_node(entries: list[tuple[str, DagNode]], profile: Profile, sink: BlockSink | None) -> DagNode:
    links = [Link(node.cid, name, node.tsize) for name, node in sorted(entries, key=lambda e: e[0].encode())]
    block = pb_node(links, DIRECTORY_DATA)
    if profile.hamt_estimation == "links":
        estimate = sum(len(link.name.encode()) + len(bytes(link.cid)) for link in links)
    else:
        estimate = len(block)
    if estimate > profile.hamt_threshold:
        return hamt_node(entries, profile, sink)
    cid = CID.of_block(block, profile.cid_version, DAG_PB)
    if sink:
        sink(cid, block)
    return DagNode(cid, len(block) + sum(link.tsize for link in links), sum(n.filesize for _, n in entries))


def add_path(path: Path, profile: Profile, sink: BlockSink | None = None, wrap: bool = False) -> DagNode:
    """The DAG of a file or a directory tree (`ipfs add -r`); `wrap` puts it in a directory under its
    own name (`-w`)."""
    if path.is_symlink() or not (path.is_file() or path.is_dir()):
        raise ModelprepError(path, "not a regular file or directory (symlinks are not added)")
    if path.is_file():
        node = add_file(path, profile, sink)
    else:
        entries = [(child.name, add_path(child, profile, sink)) for child in sorted(path.iterdir())
                   if not child.name.startswith(".")]
        node = directory_node(entries, profile, sink)
    return directory_node([(path.name, node)], profile, sink) if wrap else node
