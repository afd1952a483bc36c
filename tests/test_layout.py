"""dvc.yaml against the code: every stage's paths are the layout's, and its code deps are exactly what
its script imports.

DVC resolves dvc.yaml with the shipped params.yaml (every model x variant), and each stage is checked
as DVC will run it: its outputs and data deps against `pipeline/layout.py` for the model, variant and
format its command names; its code deps (files and folders under pipeline/ and stages/) against the
import closure of its script, computed from the source (tests/code_graph.py). A stage whose deps miss a
module it imports would be called up to date by DVC after that module changed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.examples.tiny_llama import NAME as EXAMPLE
from pipeline.layout import Layout
from tests.code_graph import REPO, as_deps, closure

CODE = ("pipeline", "stages")


def _data_paths(layout: Layout, group: str, model: str | None, variant: str | None, fmt: str | None):
    """(data deps, outputs) the layout gives each stage group, for its model, variant and format."""
    if group == "corpus":
        return [], [layout.corpus]
    if group == "generate_example":
        return [layout.corpus, Path("constraints.txt")], [layout.example(EXAMPLE)]
    if group == "import_model":
        return [layout.root / "build/examples"], [layout.hf(model), layout.source_record(model)]
    if group == "reference":
        return ([layout.hf(model), layout.source_record(model), layout.corpus, Path("constraints.txt")],
                [layout.reference(model)])
    if group == "plan":
        return [], [layout.plan]
    if group in ("convert_gguf", "export_onnx"):
        return ([layout.hf(model), layout.source_record(model), Path("constraints.txt"), layout.plan],
                [layout.base(model, fmt)])
    if group == "imatrix":
        return ([layout.base(model, "gguf"), layout.source_record(model), layout.corpus, Path("constraints.txt"),
                 layout.plan], [layout.imatrix(model)])
    if group in ("quantize_gguf", "quantize_onnx"):
        extra = [layout.corpus] if group == "quantize_onnx" else [layout.imatrix(model)]
        return ([layout.base(model, group.split("_")[1]), *extra, Path("constraints.txt")],
                [layout.artifact(model, variant)])
    if group == "evaluate":
        return ([layout.artifact(model, variant), layout.reference(model), Path("constraints.txt")],
                [layout.evaluation(model, variant), layout.probes(model, variant), layout.metrics(model, variant)])
    if group == "release":
        return ([layout.schema, layout.artifact(model, variant), layout.metrics(model, variant),
                 layout.evaluation(model, variant), layout.probes(model, variant),
                 layout.source_record(model), layout.hf(model) / "config.json"],
                [layout.release_record(model, variant)])
    if group == "plot":
        return [layout.metrics_dir(model)], [layout.plot(model)]
    raise AssertionError(f"stage group {group} has no entry here: add its layout paths")


def _argument(cmd: str, name: str) -> str | None:
    found = re.search(rf"--{name} (\S+)", cmd)
    return found.group(1) if found else None


def _stages():
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    with Repo(str(REPO)) as repo:
        return [(s.name, s.cmd, [str(d.def_path) for d in s.deps if not isinstance(d, ParamsDependency)],
                 [str(o.def_path) for o in s.outs]) for s in repo.index.stages]


STAGES = _stages()


@pytest.mark.parametrize("name, cmd, deps, outs", STAGES, ids=[s[0] for s in STAGES])
def test_stage_paths_are_the_layouts(name, cmd, deps, outs):
    group = name.split("@")[0]
    expected_deps, expected_outs = _data_paths(Layout(), group, _argument(cmd, "model"), _argument(cmd, "variant"),
                                               _argument(cmd, "format"))
    data_deps = [d for d in deps if not d.startswith(CODE)]
    assert sorted(data_deps) == sorted(p.as_posix() for p in expected_deps), name
    assert sorted(outs) == sorted(p.as_posix() for p in expected_outs), name


def _covered(deps: list[str]) -> set[Path]:
    """The Python files a stage's code deps name: files, and every .py under named folders."""
    files = set()
    for dep in deps:
        path = REPO / dep
        files |= set(path.rglob("*.py")) if path.is_dir() else {path}
    return {f for f in files if f.suffix == ".py"}


@pytest.mark.parametrize("name, cmd, deps, outs", STAGES, ids=[s[0] for s in STAGES])
def test_stage_code_deps_are_its_import_closure(name, cmd, deps, outs):
    script = REPO / cmd.split()[1]
    needed = closure(script)
    covered = _covered([d for d in deps if d.startswith(CODE)])
    missing = sorted(p.relative_to(REPO).as_posix() for p in needed - covered)
    extra = sorted(p.relative_to(REPO).as_posix() for p in covered - needed)
    assert not missing and not extra, (f"{name}: its script imports {missing}, which its deps lack, and never "
                                       f"imports {extra}, which they name; its code deps are {as_deps(needed)}")
