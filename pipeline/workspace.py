"""A fresh workspace of this project: its source files, without the outputs a build makes.

For the benchmarks, which build real-sized models in a project of their own, and the tests, which
build the examples from scratch: every file git tracks or would track (committed or not, never an
ignored one), except the outputs the repository commits (dvc.lock, manifests), so
every stage really runs. The manifest schema is source kept under manifests/ and comes along, and
`.tools/` (the pinned llama.cpp tree and its built tools, ignored by git) is linked. Its stages run
the workspace's own copy of the code (`stage_environment`), so editing this checkout while a long
build runs there changes nothing in it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pipeline.layout import REPO

COMMITTED_OUTPUTS = ("dvc.lock", "manifests")
SOURCE_UNDER_OUTPUTS = ("manifests/schema/", "manifests/trusted-keys")


def source_files(source: Path = REPO.root) -> list[str]:
    """The project's source files, relative to `source`: what git tracks or would track, less the
    outputs the repository commits."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=source,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    return [name for name in filter(None, listed)
            if (name.split("/")[0] not in COMMITTED_OUTPUTS or name.startswith(SOURCE_UNDER_OUTPUTS))
            and (source / name).is_file()]


def copy_source(dest: Path, source: Path = REPO.root) -> Path:
    """The project's source files in `dest`, made a git repository (DVC wants one)."""
    for name in source_files(source):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target)
    if (source / ".tools").is_dir() and not (dest / ".tools").exists():
        (dest / ".tools").symlink_to((source / ".tools").resolve(), target_is_directory=True)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


def stage_environment(project: Path) -> dict[str, str]:
    """Environment entries for commands run in the workspace: its `pipeline` package before the
    installed (editable) one of this checkout."""
    return {"PYTHONPATH": str(project.resolve())}
