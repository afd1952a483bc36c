"""The one result type of every check modelprep reports: gates, verify, the deployment checklist."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    item: str  # what was checked
    passed: bool
    detail: str  # what was found, in words
    brief: str = ""  # a short form for a table cell, where there is one

    def describe(self) -> str:
        return f"{self.item} {self.detail}"


def print_checks(checks: Sequence[Check], passed_word: str, failed_word: str = "FAIL") -> list[str]:
    """A table of checks, one line each with its status word; the names of those that failed."""
    width = max(len(c.item) for c in checks)
    for check in checks:
        print(f"{passed_word if check.passed else failed_word}  {check.item.ljust(width)}  {check.detail}")
    return [c.item for c in checks if not c.passed]
