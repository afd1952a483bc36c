"""The one error type users see: it names the file and what is wrong with it."""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Callable

ERROR_PREFIX = "modelprep: error: "  # how the command line and every stage print a ModelprepError


class ModelprepError(Exception):
    """A problem in the user's input or environment, reported as one line and exit status 1."""

    def __init__(self, where: str | Path, problem: str):
        super().__init__(f"{where}: {problem}")


def first_line(err: BaseException) -> str:
    """A foreign exception in one line: its first line of text, or its type when it has none."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def run_guarded(action: Callable[[], object]) -> int:
    """Run `action`, turning a ModelprepError (or a full disk) into one line on stderr and exit status 1.

    An int that `action` returns is the exit status; any other result means success. Every stage
    script and command runs through this.
    """
    try:
        status = action()
    except ModelprepError as err:
        print(f"{ERROR_PREFIX}{err}", file=sys.stderr)
        return 1
    except OSError as err:  # a full disk where no atomic write (fileio.py) named the folder
        if err.errno != errno.ENOSPC:
            raise
        print(f"{ERROR_PREFIX}{err.filename or Path.cwd()}: no space left on device", file=sys.stderr)
        return 1
    return status if isinstance(status, int) and not isinstance(status, bool) else 0
