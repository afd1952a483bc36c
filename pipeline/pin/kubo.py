"""Target `kubo`: the package's CAR imported into a Kubo node through its RPC API, pinned recursively.

`POST /api/v0/dag/import` uploads the CAR the release stage wrote (the node re-hashes every block
and pins the root); `POST /api/v0/pin/ls` then confirms the root is pinned recursively. A root
already pinned is a no-op. The node's answers must name the local package CID, or nothing is
recorded. Auth, when the node asks for it (Kubo's API.Authorizations): MODELPREP_KUBO_AUTH as
`bearer:TOKEN` or `basic:USER:PASSWORD`, Kubo's own notation.

IPFS Cluster's REST API (`/add`, `/pins`) is not supported here; a cluster is reached through its
Pinning Service API endpoint (port 9097) with target `psa`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from pipeline.errors import ModelprepError
from pipeline.package import Release
from pipeline.pin.base import STAGE, Pin, different_cid, same_content
from pipeline.pin.http import (
    HttpClient,
    MultipartFile,
    RetrySpec,
    came_back,
    json_answer,
    read_url,
    reason,
)
from pipeline.pin.secrets import authorization_header, read_secret
from pipeline.progress import ByteProgress, human_bytes, log
from pipeline.settings import Reader

AUTH_ENV = "MODELPREP_KUBO_AUTH"


@dataclass(frozen=True)
class KuboSpec:
    """params.yaml `pin.kubo`."""

    api: str  # the Kubo RPC API's base URL


def read_kubo(r: Reader, data: Any, where: str) -> KuboSpec:
    data = r.mapping(data, where)
    r.no_extra(data, {"api"}, where)
    return KuboSpec(api=read_url(r, data, "api", where))


def _kubo_error(response: requests.Response) -> bool:
    """Kubo answers every failed command with HTTP 500 and {"Message", "Code", "Type": "error"}."""
    if response.status_code != 500:
        return False
    try:
        return response.json().get("Type") == "error"
    except (ValueError, AttributeError):
        return False


class Kubo:
    name = "kubo"

    read_settings = staticmethod(read_kubo)

    def __init__(self, spec: KuboSpec, retry: RetrySpec, auth_file: Path | None = None, endpoint: str | None = None):
        secret = read_secret(AUTH_ENV, auth_file, "Kubo RPC credential")
        headers = authorization_header(secret, AUTH_ENV)
        self.endpoint = endpoint or spec.api
        self.client = HttpClient(self.endpoint, retry, STAGE, AUTH_ENV, headers,
                                 _kubo_error)

    def pin(self, release: Release, previous: Pin | None) -> Pin:
        if self._pinned(release):
            log(STAGE, f"{release.label}: {release.cid_v1} is already pinned on {self.endpoint}; nothing sent")
            return self._record(release, "already pinned recursively (pin/ls)")
        car = release.ensure_car()
        size = car.stat().st_size
        log(STAGE, f"{release.label}: importing {car} ({human_bytes(size)}) into {self.endpoint}")
        progress = ByteProgress(STAGE, f"{release.label} CAR upload", size)
        upload = MultipartFile(car, "application/vnd.ipld.car", progress)
        response = self.client.request("POST", "/api/v0/dag/import", params={"pin-roots": "true"},
                                       body=lambda: upload, headers={"Content-Type": upload.content_type})
        progress.finish()
        self._check_import(release, response)
        if not self._pinned(release):
            raise ModelprepError(self.client.url("/api/v0/pin/ls"), f"{release.cid_v1} is not pinned recursively "
                                                                    "after the import")
        return self._record(release, "imported from the CAR and pinned recursively (dag/import, pin/ls)")

    def _record(self, release: Release, detail: str) -> Pin:
        return Pin(self.name, self.endpoint, release.cid_v1, "pinned", detail)

    def _check_import(self, release: Release, response: requests.Response) -> None:
        if _kubo_error(response):
            raise ModelprepError(response.url, f"import failed: {reason(response)}")
        roots = []
        for line in response.text.splitlines():
            try:
                event = json.loads(line) if line.strip() else {}
            except ValueError:
                event = None
            if not isinstance(event, dict) or not isinstance(event.get("Root", {}), dict):
                raise ModelprepError(response.url, f"answered HTTP {response.status_code} with {came_back(response)}, "
                                                   "not dag/import's JSON lines")
            if "Root" in event:
                roots.append(event["Root"])
        if len(roots) != 1:
            raise ModelprepError(response.url, f"expected one imported root, the node answered {len(roots)}")
        cid = roots[0].get("Cid")
        answered = cid.get("/", "") if isinstance(cid, dict) else ""
        if not same_content(answered, release.cid_v1):
            raise different_cid(response.url, answered, release)
        if roots[0].get("PinErrorMsg"):
            raise ModelprepError(response.url, f"the node could not pin {answered}: {roots[0]['PinErrorMsg']}")

    def _pinned(self, release: Release) -> bool:
        response = self.client.request("POST", "/api/v0/pin/ls",
                                       params={"arg": release.cid_v1, "type": "recursive"})
        if _kubo_error(response):
            if "not pinned" in reason(response):
                return False
            raise ModelprepError(response.url, reason(response))
        keys = json_answer(response).get("Keys") or {}
        if not isinstance(keys, dict) or not all(isinstance(entry, dict) for entry in keys.values()):
            raise ModelprepError(response.url, f"answered {came_back(response)}, not pin/ls's Keys")
        for answered, entry in keys.items():
            if not same_content(answered, release.cid_v1):
                raise different_cid(response.url, answered, release)
            if entry.get("Type") == "recursive":
                return True
        return False

    def open_file(self, pin: Pin, release: Release, name: str) -> Iterator[bytes]:
        response = self.client.request("POST", "/api/v0/cat", params={"arg": f"{pin.cid}/{name}"}, stream=True)
        if _kubo_error(response):
            raise ModelprepError(response.url, reason(response))
        return self.client.chunks(response)
