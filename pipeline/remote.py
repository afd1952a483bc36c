"""The shared DVC remote: where the builds of every machine and CI job keep what they built, so no
stage runs twice for the same inputs.

params.yaml `remote.url`, or `make release REMOTE=...`, names it: `s3://bucket/prefix` through DVC's
S3 support (dvc-s3; credentials from boto3's chain, `MODELPREP_S3_ENDPOINT` for an S3-compatible
service), or an absolute path to a folder the machines share. It is configured as the project's
default remote in `.dvc/config.local` (this machine's, never committed). `modelprep repro` then runs
`dvc repro --keep-going --pull`: a stage whose deps and params match a run in the remote's
run-cache is restored from it, not run; and afterwards pushes every output and the run-cache
(`dvc push --run-cache`), so the next clone restores what this one built. Every stage is
run-cacheable (no output is `cache: false`), so a second clone of the same commit runs no stage.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.dvc_cli import dvc_command
from pipeline.errors import ModelprepError
from pipeline.progress import log
from pipeline.settings import Reader
from pipeline.urls import url_problem

NAME = "modelprep"  # the DVC remote modelprep configures, beside any the user has
ENDPOINT_ENV = "MODELPREP_S3_ENDPOINT"
BUCKET = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^?#\s]*)?")
STAGE = "remote"


@dataclass(frozen=True)
class RemoteSpec:
    """params.yaml `remote`: the shared DVC remote; empty for none."""

    url: str = ""


def remote_problem(url: str) -> str | None:
    """What is wrong with `url` as the shared remote, in words that never quote a secret; None if nothing."""
    if url.startswith("s3://"):
        return None if BUCKET.fullmatch(url) else (
            "must be s3://<bucket>[/<prefix>] with a valid bucket name (credentials come from boto3's chain, "
            "never from the URL)")
    if os.path.isabs(url):
        return None
    return f"must be s3://<bucket>[/<prefix>] or an absolute path to a shared folder, got {url.split('://')[0]!r}" \
        if "://" in url else "must be s3://<bucket>[/<prefix>] or an absolute path to a shared folder"


def read_remote(r: Reader, data: Any, where: str) -> RemoteSpec:
    spec = r.section(data, where, RemoteSpec)
    problem = spec.url and remote_problem(spec.url)
    if problem:
        raise r.error(f"'{where}.url' {problem}")
    return spec


def _dvc(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([dvc_command(), *args], cwd=root, capture_output=True, text=True)


def _failed(output: str, what: str) -> ModelprepError:
    """The error naming the remote, with DVC's own last line (DVC names the endpoint, never credentials)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")] or lines  # DVC ends with a support link
    return ModelprepError(f"DVC remote '{NAME}'", f"{what} failed: {errors[-1] if errors else 'no output'}")


def configure(root: Path, url: str, endpoint: str | None = None) -> bool:
    """Make `url` the project's default DVC remote in its local config, or remove modelprep's remote when
    `url` is empty; an S3 remote at `endpoint` (default: $MODELPREP_S3_ENDPOINT). Whether there is one now."""
    configured = NAME in _dvc(root, "remote", "list", "--local").stdout.split()
    if not url:
        if configured:
            result = _dvc(root, "remote", "remove", "--local", NAME)
            if result.returncode != 0:
                raise _failed(result.stderr + result.stdout, "removing it")
        return False
    problem = remote_problem(url)
    if problem:
        raise ModelprepError("remote.url", problem)
    if endpoint is None:
        endpoint = os.environ.get(ENDPOINT_ENV, "")
    endpoint = endpoint if url.startswith("s3://") else ""
    if endpoint and (problem := url_problem(endpoint)):
        raise ModelprepError(ENDPOINT_ENV, problem)
    steps = [("remote", "add", "--local", "--force", "--default", NAME, url)]
    steps.append(("remote", "modify", "--local", NAME, "endpointurl", endpoint) if endpoint
                 else ("remote", "modify", "--local", "--unset", NAME, "endpointurl"))
    for step in steps:
        result = _dvc(root, *step)
        if result.returncode != 0:
            raise _failed(result.stderr + result.stdout, "configuring it")
    log(STAGE, f"shared DVC remote {url}" + (f" at {endpoint}" if endpoint else ""))
    return True


def _transfer(root: Path, verb: str, *args: str) -> None:
    """`dvc pull` or `dvc push` with the run-cache, its output shown as it comes; an error if it fails."""
    command = [dvc_command(), verb, "--run-cache", "--remote", NAME, *args]
    tail: deque[str] = deque(maxlen=20)
    with subprocess.Popen(command, cwd=root, stderr=subprocess.PIPE, text=True, errors="replace") as child:
        for line in child.stderr:
            sys.stderr.write(line)
            tail.append(line)
    if child.returncode != 0:
        raise _failed("".join(tail), f"dvc {verb}")


def repro(root: Path, url: str) -> int:
    """`dvc repro --keep-going`, restoring from the shared remote what it holds and pushing what was built
    afterwards; DVC's exit status (a stage that failed, such as a missed gate, is not a transfer failure)."""
    shared = configure(root, url)
    if shared:
        # The runs the remote knows first: an unreachable or refusing remote fails here, in one line,
        # rather than as a warning per stage; outputs are fetched by repro for the stages it restores.
        log(STAGE, f"pulling the run-cache from {url}")
        _transfer(root, "pull", "--allow-missing")
    status = subprocess.run([dvc_command(), "repro", "--keep-going", *(["--pull"] if shared else [])],
                            cwd=root).returncode
    if shared:
        log(STAGE, f"pushing outputs and run-cache to {url}")
        _transfer(root, "push")
    return status
