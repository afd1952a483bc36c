"""Real server processes for the tests: started on a free port, awaited until they answer, stopped after."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`command` (which must listen on `port`) until `probe` on it answers; its stderr is shown if it dies."""

    def __init__(self, name: str, command: list[str], port: int, probe: str, cwd: Path | None = None):
        self.name, self.command, self.probe, self.cwd = name, command, probe, cwd
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self):
        # stderr to a file, not a pipe: a server that logs every request (moto, per S3 call) would fill an
        # unread pipe and block mid-answer.
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(self.command, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + self.probe, timeout=5).read()
                return self
            except (urllib.error.URLError, ConnectionError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    self.log.seek(0)
                    raise RuntimeError(f"{self.name} did not start: {self.log.read().decode()[-2000:]}")
                time.sleep(0.2)

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
