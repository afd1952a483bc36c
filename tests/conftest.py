"""Shared fixtures: real pipeline builds in scratch copies of the project."""

import os
from pathlib import Path

import pytest

from tests.project import build

BUILT_ENV = "MODELPREP_BUILT"


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """The whole pipeline, built once from scratch on the shipped examples.

    With MODELPREP_BUILT=/path/to/project set, that project's existing build is used as it stands
    instead (its params.yaml, build/ and metrics/, as `dvc repro` left them), and nothing is run:
    for a machine without DVC or time for a whole build, such as the GPU check, which is given only
    the outputs tests/test_gpu.py reads. Only for tests that read the build; tests that rebuild it
    or edit its params.yaml would change that project.
    """
    existing = os.environ.get(BUILT_ENV)
    if not existing:
        return build(tmp_path_factory.mktemp("build-a"))
    project = Path(existing).resolve()
    if not (project / "params.yaml").is_file() or not (project / "build").is_dir():
        pytest.fail(f"{BUILT_ENV}={existing}: not a built project (params.yaml and build/ expected)")
    return project
