"""An IPFS HTTP gateway the user names (`verify --remote --gateway URL`): files read back by path.

Read-only, and trusted for nothing: verify re-hashes every byte it returns against the manifest.
"""

from __future__ import annotations

from collections.abc import Iterator

from pipeline.pin.base import STAGE
from pipeline.pin.http import HttpClient, RetrySpec


class Gateway:
    def __init__(self, url: str, retry: RetrySpec):
        self.endpoint = url
        self.client = HttpClient(url, retry, STAGE, "the gateway's access settings")

    def open_file(self, package_cid: str, name: str) -> Iterator[bytes]:
        return self.client.chunks(self.client.request("GET", f"/ipfs/{package_cid}/{name}", stream=True))
