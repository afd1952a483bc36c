"""CNCF distribution (Debian's docker-registry 2.8), the real registry, on a free loopback port with its
storage in a folder the test can look into (and tamper with), stopped after."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.servers.process import ServerProcess, free_port

BINARY = "docker-registry"


class DockerRegistry(ServerProcess):
    def __init__(self, folder: Path):
        port = free_port()
        self.storage = folder / "data"
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "config.yml"
        config.write_text(f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {self.storage}
http:
  addr: 127.0.0.1:{port}
  secret: modelprep-tests
""")
        super().__init__("docker-registry", [shutil.which(BINARY) or BINARY, "serve", str(config)], port, "/v2/")

    def blob_file(self, digest: str) -> Path:
        """Where the filesystem driver keeps a blob's bytes."""
        hex_digest = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"

    def blob_count(self) -> int:
        return sum(1 for _ in (self.storage / "docker/registry/v2/blobs/sha256").glob("*/*/data"))
