"""Helpers for tests that run the real pipeline in scratch copies of the project."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from pipeline.params import load_params
from pipeline.workspace import copy_source, stage_environment

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Every model and variant the shipped params.yaml releases, in its order.
SHIPPED = load_params(REPO / "params.yaml")
MODELS = tuple(SHIPPED.models)
VARIANTS = tuple(SHIPPED.variants)
GGUF_VARIANTS = tuple(v for v in VARIANTS if SHIPPED.variant(v).format.name == "gguf")
RELEASES = [f"manifests/{m}/{v}.json" for m in MODELS for v in VARIANTS]


def run(cmd: list[str], cwd: Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **kwargs.pop("env", {})}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {result.returncode}\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    # A scratch project's stages run its own copy of the code, as they would in a clone.
    env = stage_environment(cwd) if cwd.resolve() != REPO else {}
    return run([str(BIN / "dvc"), *args], cwd=cwd, check=check, env=env)


def ran_stages(output: str) -> set[str]:
    """Names of the stages `dvc repro` says it ran."""
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


def build(dest: Path) -> Path:
    """A scratch project built as `make release` builds it, up to its manifests: dvc repro, then collect."""
    project = copy_source(dest)
    result = dvc("repro", cwd=project)
    (project / "repro.log").write_text(result.stdout + result.stderr)
    modelprep("collect", cwd=project)
    return project


def modelprep(*args: str, cwd: Path, check: bool = True,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The `modelprep` command in a project, running that project's own copy of the code."""
    environment = {**(stage_environment(cwd) if cwd.resolve() != REPO else {}), **(env or {})}
    return run([str(BIN / "modelprep"), *args], cwd=cwd, check=check, env=environment)


_MEASURED: set[Path] = set()


def measured_here(project: Path, release: str) -> dict:
    """This host's entry in a released variant's measured file (`release`: manifests/<model>/<variant>.json);
    `modelprep measure` runs first, once per project (it skips what this host measured already)."""
    from pipeline.measured import host

    if project not in _MEASURED:
        modelprep("measure", cwd=project)
        _MEASURED.add(project)
    document = json.loads((project / release.removesuffix(".json")).with_suffix(".measured.json").read_text())
    return next(entry for entry in document["measured"] if entry["host"] == host())


def lock_differences(a: Path, b: Path) -> list[str]:
    """The stages whose dvc.lock entries differ between two projects, each with the paths or keys that
    differ: an assertion message that says where two builds parted (a whole-file diff is cut short)."""
    stages = [yaml.safe_load((p / "dvc.lock").read_text())["stages"] for p in (a, b)]
    found = []
    for name in sorted(stages[0].keys() | stages[1].keys()):
        first, second = (s.get(name) or {} for s in stages)
        if first == second:
            continue
        parts = []
        for key in ("deps", "outs"):
            entries = [{e["path"]: e for e in stage.get(key, [])} for stage in (first, second)]
            parts += [path for path in entries[0].keys() | entries[1].keys()
                      if entries[0].get(path) != entries[1].get(path)]
        parts += [key for key in ("cmd", "params") if first.get(key) != second.get(key)]
        found.append(f"{name}: {', '.join(sorted(set(parts))) or 'missing'}")
    return found


def write_params(path: Path, data: dict) -> None:
    """params.yaml from its data; the top-level `variants` merges the formats' as the shipped file's anchors do."""
    data["variants"] = {**data["gguf"]["variants"], **data["onnx"]["variants"]}
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@contextlib.contextmanager
def edited_params(project: Path, edit):
    """params.yaml changed by `edit` inside the block, restored (and rebuilt) after it."""
    path = project / "params.yaml"
    original = path.read_text()
    data = yaml.safe_load(original)
    edit(data)
    write_params(path, data)
    try:
        yield
    finally:
        path.write_text(original)
        modelprep("sweep", cwd=project)  # as make release does first: the dropped variants' outputs go
        dvc("repro", cwd=project)
        modelprep("collect", cwd=project)


def signing_key(folder: Path) -> tuple[Path, str]:
    """A new builder key (ECDSA P-256) in `folder`: its PEM file and its public key as consumers name it."""
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from pipeline.manifest import keys

    key = keys.new_private_key()
    public = keys.public_text(key.public_key())
    path = folder / f"key-{keys.fingerprint(public)[7:15].replace('/', '_')}.pem"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path, public


def manifest_copies(built: Path, folder: Path, model: str, variants: tuple[str, ...]) -> dict[str, Path]:
    """Copies of built manifests at folder/manifests/<model>/<variant>.json, named as the originals (a
    signature is for one model and variant), for tests that sign them with keys of their own."""
    copies = {}
    for variant in variants:
        copies[variant] = folder / "manifests" / model / f"{variant}.json"
        copies[variant].parent.mkdir(parents=True, exist_ok=True)
        copies[variant].write_bytes((built / "manifests" / model / f"{variant}.json").read_bytes())
    return copies
