"""arlocal, the real local Arweave gateway (npm, installed by `make test` into tests/arlocal), run on a
free port in its own folder and stopped after; and a proxy in front of it that checks every chunk's
merkle proof (arlocal stores chunks without checking them) and can inject faults."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path

from tests.project import REPO
from tests.servers.faults import Answer, FaultyServer, Request
from tests.servers.process import ServerProcess, free_port

ARLOCAL = REPO / "tests/arlocal/node_modules/arlocal/bin/index.js"


def _sha256(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def validate_path(root: bytes, dest: int, left: int, right: int, path: bytes) -> tuple[int, int, bytes] | None:
    """(start, end, chunk hash) of the leaf `path` proves under `root` for byte `dest`, or None.
    Written from arweave-js `validatePath` (lib/merkle.ts)."""
    if right <= 0:
        return None
    if dest >= right:
        return validate_path(root, 0, right - 1, right, path)
    if dest < 0:
        return validate_path(root, 0, 0, right, path)
    if len(path) == 64:
        data_hash, end = path[:32], path[32:]
        return (left, right, data_hash) if _sha256(_sha256(data_hash), _sha256(end)) == root else None
    left_id, right_id, split_note, rest = path[:32], path[32:64], path[64:96], path[96:]
    if _sha256(_sha256(left_id), _sha256(right_id), _sha256(split_note)) != root:
        return None
    split = int.from_bytes(split_note, "big")
    if dest < split:
        return validate_path(left_id, dest, left, min(right, split), rest)
    return validate_path(right_id, dest, max(left, split), right, rest)


class Arlocal(ServerProcess):
    def __init__(self, workdir: Path):
        if not ARLOCAL.is_file():
            raise RuntimeError(f"{ARLOCAL} is missing: `make test` installs arlocal (npm ci in tests/arlocal)")
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        # --dbpath is relative to the working directory; each instance gets its own.
        super().__init__("arlocal", ["node", str(ARLOCAL), str(port), "--dbpath", "arlocal-db", "--hidelogs"], port,
                         "/info", cwd=workdir)

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=30) as answer:
            return answer.read()

    def mine(self) -> None:
        self.get("/mine")

    def mint(self, address: str, winston: int) -> None:
        self.get(f"/mint/{address}/{winston}")


class CheckingProxy(FaultyServer):
    """Forwards everything to `upstream`; `POST /chunk` is forwarded only when its data_path proves the
    chunk under its data_root (else 400 invalid_proof, and the chunk is kept in `rejected`). `corrupt`
    flips the first byte of data served by `GET /{id}`."""

    def __init__(self, upstream: str):
        super().__init__()
        self.upstream = upstream
        self.chunk_offsets: list[int] = []
        self.rejected: list[dict] = []
        self.corrupt = False

    def handle(self, request: Request) -> Answer:
        if request.method == "POST" and request.path == "/chunk":
            body = json.loads(request.body)
            chunk = _b64url(body["chunk"])
            proved = validate_path(_b64url(body["data_root"]), int(body["offset"]), 0, int(body["data_size"]),
                                   _b64url(body["data_path"]))
            if not proved or proved[2] != _sha256(chunk) or proved[1] - proved[0] != len(chunk):
                self.rejected.append(body)
                return Answer(400, {"error": "invalid_proof"})
            self.chunk_offsets.append(int(body["offset"]))
        forward = urllib.request.Request(self.upstream + request.path,
                                         data=request.body or None, method=request.method,
                                         headers={"Content-Type": request.headers.get("Content-Type", "")})
        try:
            with urllib.request.urlopen(forward, timeout=60) as answer:
                status, data, kind = answer.status, answer.read(), answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            status, data, kind = err.code, err.read(), err.headers.get("Content-Type", "")
        if self.corrupt and request.method == "GET" and len(request.path) == 44 and status == 200 and data:
            data = bytes([data[0] ^ 1]) + data[1:]
        return Answer(status, data, kind or "text/plain")
