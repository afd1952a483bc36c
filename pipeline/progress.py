"""Progress lines for long work: one line per step, with sizes and rates.

Lines go to stderr so stage output stays readable in `dvc repro` logs and in CI, where
carriage-return progress bars turn into noise.
"""

from __future__ import annotations

import sys
import time


def log(stage: str, message: str) -> None:
    print(f"[{stage}] {message}", file=sys.stderr, flush=True)


MIB, GIB = 2 ** 20, 2 ** 30


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


class ByteProgress:
    """Reports bytes done out of a total, at most every `interval` seconds, and a final line."""

    def __init__(self, stage: str, what: str, total: int, interval: float = 2.0):
        self.stage, self.what, self.total, self.interval = stage, what, total, interval
        self.done = 0
        self.start = self.last = time.monotonic()

    def advance(self, count: int) -> None:
        self.done += count
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
                        f" at {human_bytes(self.done / elapsed)}/s{' done' if final else ''}")


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
            rate = self.done / max(now - self.start, 1e-9)
            log(self.stage, f"{self.what}: {self.done}/{self.total} {self.unit} ({rate:.1f} {self.unit}/s){note}")
