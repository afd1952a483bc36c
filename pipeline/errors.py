"""The one error type users see: it names the file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path


class ModelprepError(Exception):
    """A problem in the user's input or environment, reported as one line and exit status 1."""

    def __init__(self, where: str | Path, problem: str):
        super().__init__(f"{where}: {problem}")
