"""Run a tool as a child process, passing its output through and keeping the tail for errors."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path

from pipeline.diskspace import disk_is_full, no_space


def run_tool(cmd: list[str], env_extra: dict[str, str] | None = None, tail_lines: int = 15,
             quiet: bool = False, cwd: Path | None = None, writes_into: Path | None = None) -> tuple[int, list[str]]:
    """Run `cmd`, echoing its merged output to stderr unless `quiet` (a tool that prints a line per
    tensor); return the exit code and its last lines. When it fails with the disk that holds
    `writes_into` (its output's folder) full, that is the error, whatever the tool said (each words it
    its own way, if at all)."""
    env = {**os.environ, **(env_extra or {})}
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd, text=True,
                          errors="replace") as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not quiet:
                sys.stderr.write(line)
            tail.append(line.rstrip())
    if proc.returncode != 0 and writes_into is not None and (
            disk_is_full(writes_into) or any("No space left on device" in line for line in tail)):
        tool = next((Path(arg).name for arg in cmd if arg.endswith(".py")), Path(cmd[0]).name)
        raise no_space(writes_into, f"while {tool} wrote into it (exit {proc.returncode})")
    return proc.returncode, list(tail)
