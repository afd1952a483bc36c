"""Transaction format 2 (arweave-js `lib/transaction.ts`): the header, its signature and its chunks.

The signed message is deep-hash of ["2", owner, target, quantity, reward, last_tx, tags, data_size,
data_root]; the id is base64url(sha256(signature)). Data travels apart from the header: in the
`POST /tx` body when it is one chunk, else as `POST /chunk` bodies with their merkle proofs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pipeline.arweave.deep_hash import deep_hash
from pipeline.arweave.encoding import b64url, b64url_decode
from pipeline.arweave.wallet import SALT_LENGTH, Wallet, verify


@dataclass
class Transaction:
    owner: bytes
    last_tx: str  # the anchor, base64url
    reward: str  # winston
    data_size: int
    data_root: bytes  # empty when there is no data
    tags: list[tuple[str, str]] = field(default_factory=list)
    target: bytes = b""
    quantity: str = "0"
    signature: bytes = b""

    def signature_data(self) -> bytes:
        return deep_hash([b"2", self.owner, self.target, self.quantity.encode(), self.reward.encode(),
                          b64url_decode(self.last_tx), [[n.encode(), v.encode()] for n, v in self.tags],
                          str(self.data_size).encode(), self.data_root])

    def sign(self, wallet: Wallet, salt_length: int = SALT_LENGTH) -> None:
        if wallet.owner != self.owner:
            raise ValueError("the wallet does not own this transaction")
        self.signature = wallet.sign(self.signature_data(), salt_length)

    @property
    def id(self) -> str:
        return b64url(hashlib.sha256(self.signature).digest())

    def verify(self) -> bool:
        return bool(self.signature) and verify(self.owner, self.signature_data(), self.signature)

    def header(self, data: bytes = b"") -> dict[str, Any]:
        """The JSON `POST /tx` takes; `data` only when it travels in the body."""
        return {"format": 2, "id": self.id, "last_tx": self.last_tx, "owner": b64url(self.owner),
                "tags": [{"name": b64url(n.encode()), "value": b64url(v.encode())} for n, v in self.tags],
                "target": b64url(self.target), "quantity": self.quantity, "data": b64url(data),
                "data_size": str(self.data_size), "data_root": b64url(self.data_root), "reward": self.reward,
                "signature": b64url(self.signature)}

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> Transaction:
        return cls(owner=b64url_decode(header["owner"]), last_tx=header["last_tx"], reward=header["reward"],
                   data_size=int(header["data_size"]), data_root=b64url_decode(header["data_root"]),
                   tags=[(b64url_decode(t["name"]).decode(), b64url_decode(t["value"]).decode())
                         for t in header["tags"]],
                   target=b64url_decode(header["target"]), quantity=header["quantity"],
                   signature=b64url_decode(header["signature"]))
