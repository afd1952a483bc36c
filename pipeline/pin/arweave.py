"""Target `arweave`: every package file as a signed format-2 transaction, plus an Arweave path
manifest naming them, so `GATEWAY/<manifest id>/<file>` serves the package.

One transaction per file, tagged Content-Type, File-Name, File-SHA256, IPFS-CID (the file's CIDv1),
Package-CID, App-Name and App-Version. A file of one chunk travels in the `POST /tx` body; larger
ones as `POST /chunk` bodies, one 256 KiB chunk each with its merkle proof. Upload progress is kept
in `<car>.arweave.json` after every chunk (signed headers and the next chunk per file, per gateway),
so an interrupted upload resumes at the next missing chunk with the same transactions, and a re-run
after everything was sent only checks the status again (no wallet needed). Every file is read back
from the gateway (`GET /{id}`, raw bytes) and must have the recorded sha256. Mined transactions make the pin `pinned`;
until then it is `pending` (`pin.arweave.confirm_wait_s` bounds the wait; a re-run checks again).
Wallet: MODELPREP_ARWEAVE_WALLET=path/to/wallet.json or --secret-file (a JWK file).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pipeline.arweave.encoding import b64url
from pipeline.arweave.merkle import ChunkTree
from pipeline.arweave.transaction import Transaction
from pipeline.arweave.wallet import Wallet
from pipeline.errors import ModelprepError
from pipeline.fileio import dumps_json, read_json, write_json
from pipeline.manifest.describe import media_type
from pipeline.package import PackageFile, Release
from pipeline.pin.base import STAGE, Pin
from pipeline.pin.http import HttpClient, RetrySpec, read_url
from pipeline.pin.secrets import require_secret
from pipeline.progress import ByteProgress, human_bytes, log
from pipeline.settings import Reader, setting

WALLET_ENV = "MODELPREP_ARWEAVE_WALLET"
PATH_MANIFEST_TYPE = "application/x.arweave-manifest+json"
ACCEPTED = (200, 208)  # 208: the node already has this transaction or chunk


@dataclass(frozen=True)
class ArweaveSpec:
    """params.yaml `pin.arweave`."""

    gateway: str
    poll_s: float = setting(low=0)
    confirm_wait_s: float = setting(low=0)  # wait this long for mining; 0: record the pin as pending


def read_arweave(r: Reader, data: Any, where: str) -> ArweaveSpec:
    data = r.mapping(data, where)
    r.no_extra(data, {"gateway", "poll_s", "confirm_wait_s"}, where)
    return ArweaveSpec(gateway=read_url(r, data, "gateway", where),
                       **r.fields(data, where, ArweaveSpec, ("poll_s", "confirm_wait_s")))


class UploadState:
    """Per gateway and file: the signed header, whether it was posted, and the next chunk to send."""

    def __init__(self, path: Path, gateway: str):
        self.path, self.gateway = path, gateway
        self.data: dict[str, Any] = read_json(path) if path.is_file() else {}
        self.files: dict[str, Any] = self.data.setdefault(gateway, {})

    def save(self) -> None:
        write_json(self.path, self.data)


class Arweave:
    name = "arweave"

    read_settings = staticmethod(read_arweave)

    def __init__(self, spec: ArweaveSpec, retry: RetrySpec, wallet_file: Path | None = None,
                 endpoint: str | None = None):
        self.spec, self.endpoint, self.wallet_file = spec, endpoint or spec.gateway, wallet_file
        self.client = HttpClient(self.endpoint, retry, STAGE,
                                 f"{WALLET_ENV} or --secret-file")

    def _wallet(self) -> Wallet:
        path = Path(require_secret(WALLET_ENV, None, "Arweave wallet path", "--secret-file")) \
            if self.wallet_file is None else self.wallet_file
        return Wallet.load(path)

    def pin(self, release: Release, previous: Pin | None) -> Pin:
        if previous:
            # Recorded only once every transaction was accepted: nothing to send, no wallet needed.
            log(STAGE, f"{release.label}: already sent to Arweave (path manifest {previous.ids['manifest']}, "
                       f"{previous.status}); checking its status and data")
            return self._confirm(release, previous.ids["transactions"], previous.ids["manifest"],
                                 previous.ids["wallet"])
        wallet = self._wallet()
        state = UploadState(release.car.with_name(f"{release.car.stem}.arweave.json"), self.endpoint)
        common = [("App-Name", "modelprep"), ("App-Version", version("modelprep")),
                  ("Package-CID", release.cid_v1)]
        transactions = {}
        for entry in release.files:
            tags = [("Content-Type", media_type(entry.name)), ("File-Name", entry.name),
                    ("File-SHA256", entry.sha256), ("IPFS-CID", entry.cid_v1), *common]
            transactions[entry.name] = self._upload(wallet, state, entry, tags, release.label)
        manifest = dumps_json({"manifest": "arweave/paths", "version": "0.1.0", "index": {"path": "modelprep.json"},
                               "paths": {name: {"id": tx} for name, tx in sorted(transactions.items())}}).encode()
        manifest_file = PackageFile("(path manifest)", hashlib.sha256(manifest).hexdigest(), len(manifest), "",
                                    None, manifest)
        manifest_tx = self._upload(wallet, state, manifest_file, [("Content-Type", PATH_MANIFEST_TYPE), *common],
                                   release.label)
        return self._confirm(release, transactions, manifest_tx, wallet.address)

    def _upload(self, wallet: Wallet, state: UploadState, entry: PackageFile, tags: list[tuple[str, str]],
                label: str) -> str:
        with entry.open() as stream:
            tree = ChunkTree.of_stream(stream, entry.size)
        data_root = tree.data_root if entry.size else b""
        saved = state.files.get(entry.name)
        if saved and saved["data_root"] == b64url(data_root) and saved["tags"] == [list(t) for t in tags]:
            tx = Transaction.from_header(saved["header"])
        else:
            reward = self.client.request("GET", f"/price/{entry.size}").text.strip()
            anchor = self.client.request("GET", "/tx_anchor").text.strip()
            tx = Transaction(wallet.owner, anchor, reward, entry.size, data_root, tags)
            tx.sign(wallet)
            saved = state.files[entry.name] = {"data_root": b64url(data_root), "tags": [list(t) for t in tags],
                                               "header": tx.header(), "posted": False, "next_chunk": 0}
            state.save()
        chunks = list(tree.chunk_proofs())
        if saved["next_chunk"] >= len(chunks) and saved["posted"]:
            return tx.id
        if not saved["posted"]:
            in_body = len(chunks) <= 1
            with entry.open() as stream:
                body = tx.header(stream.read() if in_body else b"")
            self._post_transaction(tx, body)
            saved.update(posted=True, next_chunk=len(chunks) if in_body else 0)
            state.save()
            log(STAGE, f"{label} {entry.name}: transaction {tx.id} posted ({human_bytes(entry.size)}"
                       f"{', data in the body' if in_body else f', {len(chunks)} chunks to send'})")
        if saved["next_chunk"] < len(chunks):
            self._send_chunks(tx, entry, chunks, saved, state, label)
        return tx.id

    def _post_transaction(self, tx: Transaction, body: dict[str, Any]) -> None:
        try:
            self.client.request("POST", "/tx", json=body, accept=ACCEPTED)
        except ModelprepError:
            # A try whose answer was lost may have landed; the retry is then refused as a duplicate
            # (arlocal answers 404). The transaction is known by its id: ask for it before failing.
            if self.client.request("GET", f"/tx/{tx.id}/status", accept=(200, 202, 404)).status_code == 404:
                raise

    def _send_chunks(self, tx: Transaction, entry: PackageFile, chunks: list[tuple[int, int, bytes]],
                     saved: dict[str, Any], state: UploadState, label: str) -> None:
        first = saved["next_chunk"]
        if first:
            log(STAGE, f"{label} {entry.name}: resuming at chunk {first + 1} of {len(chunks)}")
        progress = ByteProgress(STAGE, f"{label} {entry.name} chunks", entry.size - chunks[first][0])
        with entry.open() as stream:
            stream.seek(chunks[first][0])
            for index in range(first, len(chunks)):
                start, end, proof = chunks[index]
                chunk = stream.read(end - start)
                self.client.request("POST", "/chunk", accept=ACCEPTED, json={
                    "data_root": b64url(tx.data_root), "data_size": str(tx.data_size), "data_path": b64url(proof),
                    "offset": str(end - 1), "chunk": b64url(chunk)})
                saved["next_chunk"] = index + 1
                state.save()
                progress.advance(len(chunk))
        progress.finish()

    def _confirm(self, release: Release, transactions: dict[str, str], manifest_tx: str, address: str) -> Pin:
        for entry in release.files:
            sha256 = hashlib.sha256()
            for chunk in self.open_data(transactions[entry.name]):
                sha256.update(chunk)
            if sha256.hexdigest() != entry.sha256:
                raise ModelprepError(self.client.url(f"/tx/{transactions[entry.name]}/data"),
                                     f"{entry.name} reads back with sha256 {sha256.hexdigest()}, "
                                     f"not the recorded {entry.sha256}")
        pending = self._unconfirmed([*transactions.values(), manifest_tx])
        ids = {"manifest": manifest_tx, "transactions": transactions, "wallet": address}
        if pending:
            detail = (f"{len(pending)} of {len(transactions) + 1} transactions not mined yet; every file read back "
                      "with its sha256; re-run `modelprep pin --target arweave` to record the confirmation")
            return Pin(self.name, self.endpoint, release.cid_v1, "pending", detail, ids)
        return Pin(self.name, self.endpoint, release.cid_v1, "pinned",
                   "every transaction mined; every file read back with its sha256", ids)

    def _mined(self, tx_id: str) -> bool:
        """Whether the transaction is in a block: status 200 with its block height (pending is 202 on nodes,
        200 "Pending" on arlocal)."""
        response = self.client.request("GET", f"/tx/{tx_id}/status", accept=(200, 202, 404))
        try:
            answer = response.json() if response.status_code == 200 else None
        except ValueError:
            return False
        return isinstance(answer, dict) and "block_height" in answer

    def _unconfirmed(self, ids: list[str]) -> list[str]:
        deadline = time.monotonic() + self.spec.confirm_wait_s
        while True:
            pending = [tx for tx in ids if not self._mined(tx)]
            if not pending or time.monotonic() >= deadline:
                return pending
            time.sleep(self.spec.poll_s)

    def open_data(self, tx_id: str) -> Iterator[bytes]:
        """A transaction's data, raw, from the gateway route `GET /{id}` (arweave.net and arlocal serve it so;
        `/tx/{id}/data` is base64url and, on arlocal, empty for chunked uploads)."""
        return self.client.chunks(self.client.request("GET", f"/{tx_id}", stream=True))

    def open_file(self, pin: Pin, release: Release, name: str) -> Iterator[bytes]:
        return self.open_data(pin.ids["transactions"][name])


