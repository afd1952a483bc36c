"""An IPFS Pinning Service API v1 double. A pin request fetches the DAG from its origins the way a
real service would (here: the origin multiaddr `/ip4/HOST/tcp/PORT/http` is a Kubo RPC double, read
with dag/export), re-hashes every block and pins only a complete DAG under the requested CID;
otherwise the request fails with the reason. Status goes queued -> pinning -> pinned (or failed),
one step per poll, so polling is exercised. Knobs: `token`, `answer_cid`.
"""

from __future__ import annotations

import itertools
import json
import re
import urllib.request

from tests.servers import ipld
from tests.servers.faults import Answer, FaultyServer, Request


class PinningServiceServer(FaultyServer):
    def __init__(self, token: str):
        super().__init__()
        self.token = token
        self.requests: dict[str, dict] = {}
        self.ids = (f"req-{n}" for n in itertools.count(1))
        self.answer_cid: str | None = None

    def handle(self, request: Request) -> Answer:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Answer(401, {"error": {"reason": "UNAUTHORIZED", "details": "bad or missing access token"}})
        if request.path == "/pins" and request.method == "POST":
            return self._add(json.loads(request.body))
        if request.path == "/pins" and request.method == "GET":
            wanted = set(request.query.get("status", "queued,pinning,pinned,failed").split(","))
            results = [self._advance(r) for r in self.requests.values()
                       if r["pin"]["cid"] == request.query.get("cid", r["pin"]["cid"])]
            results = [r for r in results if r["status"] in wanted]
            return Answer(200, {"count": len(results), "results": results})
        match = re.fullmatch(r"/pins/([\w-]+)", request.path)
        if match and request.method == "GET":
            if match[1] not in self.requests:
                return Answer(404, {"error": {"reason": "NOT_FOUND", "details": match[1]}})
            return Answer(200, self._advance(self.requests[match[1]]))
        return Answer(404, {"error": {"reason": "NOT_FOUND", "details": request.path}})

    def _add(self, body: dict) -> Answer:
        if not isinstance(body.get("cid"), str) or len(body.get("name", "")) > 255 or len(body.get("origins", [])) > 20:
            return Answer(400, {"error": {"reason": "BAD_REQUEST", "details": "cid, name<=255, origins<=20"}})
        requestid = next(self.ids)
        self.requests[requestid] = {
            "requestid": requestid, "status": "queued", "created": "2026-01-01T00:00:00Z",
            "pin": {"cid": self.answer_cid or body["cid"], "name": body.get("name"), "origins": body.get("origins", []),
                    "meta": body.get("meta", {})},
            "delegates": ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWTestDelegate"], "info": {}}
        return Answer(202, self.requests[requestid])

    def _advance(self, status: dict) -> dict:
        if status["status"] == "queued":
            status["status"] = "pinning"
        elif status["status"] == "pinning":
            error = self._fetch(status["pin"]["cid"], status["pin"]["origins"])
            status["status"] = "failed" if error else "pinned"
            status["info"] = {"reason": error} if error else {}
        return status

    def _fetch(self, cid: str, origins: list[str]) -> str | None:
        """None when some origin served the complete DAG under `cid`, else why not."""
        reasons = []
        for origin in origins:
            match = re.fullmatch(r"/ip4/([\d.]+)/tcp/(\d+)/http", origin)
            if not match:
                reasons.append(f"{origin}: unreachable")
                continue
            url = f"http://{match[1]}:{match[2]}/api/v0/dag/export?arg={cid}"
            try:
                with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30) as answer:
                    roots, blocks = ipld.parse_car(answer.read())
                if [ipld.key(r) for r in roots] != [ipld.key(ipld.cid_binary(cid))]:
                    raise ValueError("the origin's CAR has another root")
                ipld.reachable(blocks, roots[0])
                return None
            except Exception as err:  # noqa: BLE001 - any failure of an origin is the pin's failure reason
                reasons.append(f"{origin}: {err}")
        return "; ".join(reasons) or "no origins to fetch from"
