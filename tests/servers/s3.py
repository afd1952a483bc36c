"""moto's S3 server, the real process (`moto[server]`), on a free port for the test, stopped after."""

from __future__ import annotations

import sys

from tests.servers.process import ServerProcess, free_port


class MotoS3(ServerProcess):
    def __init__(self):
        port = free_port()
        super().__init__("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port,
                         "/moto-api/")
