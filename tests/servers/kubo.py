"""A Kubo RPC API double: dag/import, pin/ls, cat, dag/export, and a path gateway (/ipfs/CID/PATH).

Imports re-hash every block and check the DAG under each root is complete before pinning it, as
Kubo's blockstore and pinner do. Knobs: `token` (require `Authorization: Bearer TOKEN`),
`answer_root` (report another root CID: a node holding different bytes), `corrupt` (flip a byte in
every block served back).
"""

from __future__ import annotations

import json

from tests.servers import ipld
from tests.servers.faults import Answer, FaultyServer, Request


def kubo_error(message: str) -> Answer:
    return Answer(500, {"Message": message, "Code": 0, "Type": "error"})


def multipart_file(request: Request) -> bytes:
    boundary = request.headers["Content-Type"].split("boundary=", 1)[1].encode()
    part = request.body.split(b"--" + boundary)[1]
    payload = part.split(b"\r\n\r\n", 1)[1]
    if not payload.endswith(b"\r\n"):
        raise ValueError("multipart part does not end with CRLF")
    return payload[:-2]


class KuboServer(FaultyServer):
    def __init__(self, token: str | None = None):
        super().__init__()
        self.token = token
        self.blocks: dict[bytes, tuple[bytes, bytes]] = {}
        self.pins: set[bytes] = set()  # digests of recursively pinned roots
        self.imports = 0
        self.answer_root: str | None = None
        self.corrupt = False

    def handle(self, request: Request) -> Answer:
        if request.path.startswith("/ipfs/") and request.method == "GET":
            return self._cat(request.path[len("/ipfs/"):])
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return Answer(401, "401 - Unauthorized", "text/plain")
        if request.method != "POST":
            return Answer(405, "405 - Method Not Allowed", "text/plain")
        routes = {"/api/v0/dag/import": self._import, "/api/v0/pin/ls": self._pin_ls,
                  "/api/v0/cat": lambda r: self._cat(r.query["arg"]), "/api/v0/dag/export": self._export}
        if request.path not in routes:
            return Answer(404, "404 page not found", "text/plain")
        return routes[request.path](request)

    def _import(self, request: Request) -> Answer:
        try:
            roots, blocks = ipld.parse_car(multipart_file(request))
            for root in roots:
                ipld.reachable(blocks, root)
        except (ValueError, KeyError, IndexError) as err:
            return kubo_error(f"import failed: {err!r}")
        self.blocks.update(blocks)
        self.imports += 1
        lines = []
        for root in roots:
            self.pins.add(ipld.key(root))
            cid = self.answer_root or ipld.cid_text(root)
            lines.append(json.dumps({"Root": {"Cid": {"/": cid}, "PinErrorMsg": ""}}) + "\n")
        return Answer(200, "".join(lines))

    def _pin_ls(self, request: Request) -> Answer:
        arg = request.query["arg"]
        if ipld.key(ipld.cid_binary(arg)) not in self.pins:
            return kubo_error(f"path '{arg}' is not pinned")
        return Answer(200, {"Keys": {self.answer_root or arg: {"Type": "recursive", "Name": ""}}})

    def _resolve(self, path: str) -> bytes:
        head, *names = path.strip("/").split("/")
        cid = ipld.cid_binary(head)
        for name in names:
            block = self.blocks[ipld.key(cid)][1]
            cid = next(child for child, link_name in ipld.links(block) if link_name == name)
        return cid

    def _cat(self, path: str) -> Answer:
        try:
            data = ipld.file_bytes(self.blocks, self._resolve(path))
        except (KeyError, StopIteration, ValueError):
            return kubo_error(f"no link named or block for {path}")
        if self.corrupt and data:
            data = bytes([data[0] ^ 1]) + data[1:]
        return Answer(200, data, "application/octet-stream")

    def _export(self, request: Request) -> Answer:
        try:
            return Answer(200, ipld.write_car(ipld.cid_binary(request.query["arg"]), self.blocks),
                          "application/vnd.ipld.car")
        except KeyError:
            return kubo_error("block not found locally")
