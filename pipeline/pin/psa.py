"""Target `psa`: the IPFS Pinning Service API v1 (Pinata, Filebase, IPFS Cluster's pinsvc, Kubo's
`pin remote` services).

The service fetches the blocks itself from the `origins` (multiaddrs of a node that holds them,
e.g. your Kubo node after PIN=kubo), so nothing is uploaded from here. An existing request for the
same CID is reused (a re-run never asks twice); otherwise `POST /pins`, then `GET /pins/{requestid}`
every `poll_s` until pinned or failed. Still queued after `wait_s`: recorded as pending with its
request id, and a re-run checks it again. Token: MODELPREP_PSA_TOKEN or --secret-file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError
from pipeline.package import Release
from pipeline.pin.base import STAGE, Pin, different_cid, same_content
from pipeline.pin.http import HttpClient, RetrySpec, json_answer, read_url
from pipeline.pin.secrets import require_secret
from pipeline.progress import log
from pipeline.settings import Reader, setting

TOKEN_ENV = "MODELPREP_PSA_TOKEN"
WAITING = ("queued", "pinning")
MAX_ORIGINS = 20  # the Pinning Service API's limit


@dataclass(frozen=True)
class PSASpec:
    """params.yaml `pin.psa`."""

    endpoint: str
    origins: tuple[str, ...]  # multiaddrs of a node that holds the blocks
    poll_s: float = setting(low=0)
    wait_s: float = setting(low=0)


def read_psa(r: Reader, data: Any, where: str) -> PSASpec:
    data = r.mapping(data, where)
    r.no_extra(data, {"endpoint", "origins", "poll_s", "wait_s"}, where)
    origins = r.get(data, "origins", list, where)
    if len(origins) > MAX_ORIGINS or not all(isinstance(o, str) and o.startswith("/") for o in origins):
        raise r.error(f"'{where}.origins' must list at most {MAX_ORIGINS} multiaddrs (each starting with '/')")
    return PSASpec(endpoint=read_url(r, data, "endpoint", where), origins=tuple(origins),
                   **r.fields(data, where, PSASpec, ("poll_s", "wait_s")))


class PinningService:
    name = "psa"

    read_settings = staticmethod(read_psa)

    def __init__(self, spec: PSASpec, retry: RetrySpec, token_file: Path | None = None, endpoint: str | None = None):
        self.spec, self.endpoint = spec, endpoint or spec.endpoint
        if not self.endpoint:
            raise ModelprepError("params.yaml", "'pin.psa.endpoint' is empty: name the Pinning Service API URL")
        token = require_secret(TOKEN_ENV, token_file, "Pinning Service API token", "--secret-file")
        self.client = HttpClient(self.endpoint, retry, STAGE,
                                 f"{TOKEN_ENV} or --secret-file", {"Authorization": f"Bearer {token}"})

    def pin(self, release: Release, previous: Pin | None) -> Pin:
        status = self._existing(release)
        if status and status["status"] == "pinned":
            log(STAGE, f"{release.label}: {release.cid_v1} is already pinned by {self.endpoint} "
                       f"(request {status['requestid']}); nothing sent")
            return self._record(release, status)
        if status:
            log(STAGE, f"{release.label}: request {status['requestid']} is {status['status']}; waiting for it")
        else:
            body = {"cid": release.cid_v1, "name": release.label[:255], "origins": list(self.spec.origins),
                    "meta": {"app": "modelprep", "model": release.model, "variant": release.variant}}
            status = self._checked(release, json_answer(self.client.request("POST", "/pins", json=body,
                                                                                    accept=(200, 202))))
            log(STAGE, f"{release.label}: pin requested from {self.endpoint}, request {status['requestid']} "
                       f"{status['status']}")
        return self._record(release, self._wait(release, status))

    def _existing(self, release: Release) -> dict[str, Any] | None:
        """The service's most advanced request for this CID: pinned first, then queued or pinning."""
        answer = json_answer(self.client.request("GET", "/pins", params={"cid": release.cid_v1,
                                                                         "status": "queued,pinning,pinned"}))
        if not isinstance(answer.get("results", []), list):
            raise ModelprepError(self.endpoint, f"answer is not a PinResults list: {str(answer)[:200]}")
        results = [self._checked(release, r) for r in answer.get("results", [])]
        results.sort(key=lambda r: r["status"] != "pinned")
        return results[0] if results else None

    def _checked(self, release: Release, status: Any) -> dict[str, Any]:
        if (not isinstance(status, dict) or not {"requestid", "status", "pin"} <= set(status)
                or not isinstance(status["pin"], dict)):
            raise ModelprepError(self.endpoint, f"answer is not a PinStatus: {str(status)[:200]}")
        answered = status["pin"].get("cid", "")
        if not same_content(answered, release.cid_v1):
            raise different_cid(self.endpoint, answered, release)
        return status

    def _wait(self, release: Release, status: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + self.spec.wait_s
        while status["status"] in WAITING and time.monotonic() < deadline:
            time.sleep(self.spec.poll_s)
            status = self._checked(release, json_answer(self.client.request("GET", f"/pins/{status['requestid']}")))
            log(STAGE, f"{release.label}: request {status['requestid']} {status['status']}")
        if status["status"] == "failed":
            info = status.get("info") or {}
            raise ModelprepError(self.endpoint, f"pinning {release.cid_v1} failed (request {status['requestid']}): "
                                                f"{info or 'no reason given'}")
        return status

    def _record(self, release: Release, status: dict[str, Any]) -> Pin:
        pinned = status["status"] == "pinned"
        detail = ("pinned by the service" if pinned else
                  f"still {status['status']} after {self.spec.wait_s:.0f} s; re-run `modelprep pin --target psa`")
        return Pin(self.name, self.endpoint, release.cid_v1, "pinned" if pinned else "pending", detail,
                   {"requestid": status["requestid"], "delegates": status.get("delegates", [])})

    def open_file(self, pin: Pin, release: Release, name: str) -> Iterator[bytes]:
        raise ModelprepError(self.endpoint, "a pinning service serves no content; verify through an IPFS gateway "
                                            "with `modelprep verify --remote --gateway URL`")
