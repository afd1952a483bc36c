"""Kubo's import profiles (IPIP-499), the settings that decide a CID."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    cid_version: int
    raw_leaves: bool
    chunk_size: int
    max_links: int  # children per file node before the balanced layout adds a level
    hamt_estimation: str  # how a directory's size is estimated against the HAMT threshold: links or block
    hamt_threshold: int = 256 * 1024  # a directory strictly larger than this becomes a HAMT shard


PROFILES = {p.name: p for p in (
    Profile("unixfs-v0-2015", cid_version=0, raw_leaves=False, chunk_size=256 * 1024, max_links=174,
            hamt_estimation="links"),
    Profile("unixfs-v1-2025", cid_version=1, raw_leaves=True, chunk_size=1024 * 1024, max_links=1024,
            hamt_estimation="block"),
)}
DEFAULT_PROFILE = "unixfs-v1-2025"
