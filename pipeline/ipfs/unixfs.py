"""dag-pb nodes with UnixFS data, byte for byte as boxo (Kubo's importer) writes them.

PBNode: every Link (field 2) first, then Data (field 1). PBLink: Hash=1, Name=2, Tsize=3, always all
three: boxo writes the empty Name of file chunks, and without it the CIDs are not Kubo's.
UnixFS Data: Type=1, Data=2, filesize=3, blocksizes=4 (one tag per value, not packed).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.ipfs.cid import CID, varint

DIRECTORY, FILE = 1, 2


def _field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def _field_bytes(number: int, data: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(data)) + data


@dataclass(frozen=True)
class Link:
    cid: CID
    name: str
    tsize: int  # the child's block plus everything below it


def pb_node(links: list[Link], data: bytes) -> bytes:
    encoded = b"".join(
        _field_bytes(2, _field_bytes(1, bytes(link.cid)) + _field_bytes(2, link.name.encode("utf-8"))
                     + _field_varint(3, link.tsize))
        for link in links)
    return encoded + _field_bytes(1, data)


def file_data(chunk: bytes | None, filesize: int, blocksizes: list[int]) -> bytes:
    """UnixFS Data of a file node: a leaf carries its chunk (an empty chunk is left out), a parent its
    children's sizes."""
    out = _field_varint(1, FILE)
    if chunk:
        out += _field_bytes(2, chunk)
    out += _field_varint(3, filesize)
    return out + b"".join(_field_varint(4, size) for size in blocksizes)


DIRECTORY_DATA = _field_varint(1, DIRECTORY)
