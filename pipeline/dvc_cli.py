"""DVC's command line, as the project's commands run it: the `dvc` installed beside this interpreter
(the project's .venv), so `modelprep` works without the venv on PATH."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pipeline.errors import ModelprepError


def dvc_command() -> str:
    beside = Path(sys.executable).parent / "dvc"
    found = str(beside) if beside.is_file() else shutil.which("dvc")
    if not found:
        raise ModelprepError("dvc", "not installed beside this Python nor on PATH: run make setup")
    return found
