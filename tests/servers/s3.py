"""moto's S3 server, the real process (`moto[server]`), on a free port for the test, stopped after."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.servers.arlocal import free_port


class MotoS3:
    def __enter__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=5).read()
                return self
            except (urllib.error.URLError, ConnectionError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    raise RuntimeError(f"moto did not start: {self.process.stderr.read().decode()[-2000:]}")
                time.sleep(0.2)

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)
