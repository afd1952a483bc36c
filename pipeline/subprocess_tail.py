"""Run a tool as a child process, passing its output through and keeping the tail for errors."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path


def run_tool(cmd: list[str], env_extra: dict[str, str] | None = None, tail_lines: int = 15,
             quiet: bool = False, cwd: Path | None = None) -> tuple[int, list[str]]:
    """Run `cmd`, echoing its merged output to stderr unless `quiet` (a tool that prints a line per
    tensor); return the exit code and its last lines."""
    env = {**os.environ, **(env_extra or {})}
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd, text=True,
                          errors="replace") as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not quiet:
                sys.stderr.write(line)
            tail.append(line.rstrip())
    return proc.returncode, list(tail)
