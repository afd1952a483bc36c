"""Progress lines for long work: one line per step, with sizes and rates.

Lines go to stderr so stage output stays readable in `dvc repro` logs and in CI, where
carriage-return progress bars turn into noise.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path


def log(stage: str, message: str) -> None:
    print(f"[{stage}] {message}", file=sys.stderr, flush=True)


MIB, GIB = 2 ** 20, 2 ** 30


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def eta(done: float, total: float, elapsed: float) -> str:
    """' ETA 3m05s' at the rate so far, or '' before there is a rate or once done."""
    if done <= 0 or done >= total:
        return ""
    seconds = round((total - done) * elapsed / done)
    hours, rest = divmod(seconds, 3600)
    return f" ETA {hours}h{rest // 60:02d}m" if hours else f" ETA {rest // 60}m{rest % 60:02d}s"


class ByteProgress:
    """Reports bytes done out of a total, at most every `interval` seconds, and a final line."""

    def __init__(self, stage: str, what: str, total: int, interval: float = 2.0):
        self.stage, self.what, self.total, self.interval = stage, what, total, interval
        self.done = 0
        self.start = self.last = time.monotonic()

    def advance(self, count: int) -> None:
        self.update(self.done + count)

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._report(now)

    def finish(self) -> None:
        self._report(time.monotonic(), final=True)

    def _report(self, now: float, final: bool = False) -> None:
        elapsed = max(now - self.start, 1e-9)
        share = f" {100 * self.done / self.total:.0f}%" if self.total and not final else ""
        log(self.stage, f"{self.what}: {human_bytes(self.done)} of {human_bytes(self.total)}{share}"
                        f" at {human_bytes(self.done / elapsed)}/s"
                        f"{' done' if final else eta(self.done, self.total, elapsed)}")


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


@contextlib.contextmanager
def watch_growth(stage: str, what: str, path: Path, expected: int, interval: float = 5.0) -> Iterator[None]:
    """Report the size of `path` (a file, or the files under a folder) while a tool that reports no
    progress of its own, in this process or a child, writes it toward about `expected` bytes."""
    progress = ByteProgress(stage, what, expected, interval)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(interval):
            with contextlib.suppress(OSError):  # a file renamed or removed under us
                progress.update(_tree_size(path))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        progress.done = _tree_size(path)
    progress.finish()


class StepProgress:
    """Reports item counts (tokens, sentences, training steps) with a rate."""

    def __init__(self, stage: str, what: str, total: int, unit: str, interval: float = 5.0):
        self.stage, self.what, self.total, self.unit, self.interval = stage, what, total, unit, interval
        self.done = 0
        self.start = self.last = time.monotonic()

    def advance(self, count: int = 1, note: str = "") -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= self.interval or self.done >= self.total:
            self.last = now
            elapsed = max(now - self.start, 1e-9)
            log(self.stage, f"{self.what}: {self.done}/{self.total} {self.unit} ({self.done / elapsed:.1f} "
                            f"{self.unit}/s){eta(self.done, self.total, elapsed)}{note}")
