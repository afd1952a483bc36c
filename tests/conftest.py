"""Shared fixtures: real pipeline builds in scratch copies of the project."""

from pathlib import Path

import pytest

from tests.project import build


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """The whole pipeline, built once from scratch on the shipped examples."""
    return build(tmp_path_factory.mktemp("build-a"))
