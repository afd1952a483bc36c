"""Peak memory of a process and everything it starts, for the benchmarks' per-stage figures.

A stage may run its heavy work in children (llama.cpp's converter, the measuring process, the ONNX
model builder), so its own peak RSS says little. `TreeMemory` samples the resident memory of the
process and all its descendants from /proc every few milliseconds and keeps the largest sum; the
kernel's own peaks (VmHWM of this process, the largest child's ru_maxrss) are taken too, and the
peak is the largest of the three, since a short spike can fall between two samples.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from collections.abc import Callable
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
STATS_ENV = "MODELPREP_STAGE_STATS"  # a file each stage appends its wall time and peak memory to


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(child) for child in handle.read().split()]
    except OSError:
        pass  # the process ended while being read
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants now."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _rss(current)
        todo += _children(current)
    return total


def own_peak() -> int:
    """This process's peak RSS (VmHWM; ru_maxrss survives exec, so it could carry a parent's)."""
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


class TreeMemory:
    """Samples this process tree's RSS in a thread while the block runs: `peak` afterwards."""

    def __init__(self, interval: float = 0.02):
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pid = os.getpid()
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        self.peak = max(self.peak, own_peak(), children)


def record_stage(name: str, args: dict[str, str], action: Callable[[], object]) -> object:
    """Run `action`; where $MODELPREP_STAGE_STATS names a file, append one JSON line with the stage's name and
    arguments, wall time and peak memory, whether it succeeded or not."""
    path = os.environ.get(STATS_ENV)
    if not path:
        return action()
    start, ok, memory = time.monotonic(), False, TreeMemory()
    try:
        with memory:
            result = action()
        ok = True
        return result
    finally:
        line = {"stage": name, "args": args, "ok": ok, "peak_rss_bytes": memory.peak,
                "wall_s": round(time.monotonic() - start, 2)}
        with open(Path(path), "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, sort_keys=True) + "\n")
