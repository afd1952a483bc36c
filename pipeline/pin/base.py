"""What every pin target answers: the pin it made of a released package (`package.Release`).

A target is one module with one class: `pin(release, previous)` makes the package retrievable from
the target and returns its Pin, confirmed from the target's own answers; `open_file(pin, name)`
streams one package file back from the target, so `verify --remote` can re-hash it. Targets are
listed in `targets.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from pipeline.errors import ModelprepError
from pipeline.ipfs.cid import CID
from pipeline.package import Release

STAGE = "pin"


@dataclass
class Pin:
    """Where a package is pinned and what the target last said about it (one entry of a pins file)."""

    target: str
    endpoint: str  # the service's base URL, never with credentials in it
    cid: str  # the package's CIDv1 the target holds
    status: str  # pinned | pending (submitted; a re-run checks again)
    detail: str
    # Per target: the PSA request id; Arweave transaction ids per file, the path manifest's and the wallet address.
    ids: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class PinTarget(Protocol):
    name: str
    endpoint: str

    def pin(self, release: Release, previous: Pin | None) -> Pin: ...

    def open_file(self, pin: Pin, release: Release, name: str) -> Iterator[bytes]: ...


def same_content(answered: str, local: str) -> bool:
    """Whether a CID a service answered names the same block as ours (CIDv0 and v1 of one hash do)."""
    try:
        theirs, ours = CID.parse(answered), CID.parse(local)
    except ValueError:
        return False
    return (theirs.codec, theirs.digest) == (ours.codec, ours.digest)


def different_cid(where: str, answered: str, release: Release) -> ModelprepError:
    return ModelprepError(where, f"answered CID {answered} for {release.label}, but the local package is "
                                 f"{release.cid_v1}: the target holds different bytes; nothing is recorded")
