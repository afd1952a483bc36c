"""The whole pipeline on a model of a real shape: each stage's wall time and peak memory, and the disk.

`make bench` runs it on TinyLlama-1.1B's shape, `make bench-scale` on Mistral-7B's (params.yaml
`bench`): the model is generated with random bf16 weights (`examples/shaped.py`), a fresh workspace
of this project gets a params.yaml naming only that model (the variants and evaluation budget of its
`bench.scale` entry, a loose gate of its own), and `dvc repro` runs in it with every stage
recording its wall time and the peak memory of its process tree (`monitor.py`). The table holds each
stage against the memory ceiling, 1.25 x the weights it works on + 1.5 GiB (the bf16 checkpoint; for
ONNX variants, the larger of that and the ONNX weights the stage reads or writes), and the disk the
build took against the bytes of what it made. Times vary with the machine's load; they are printed,
never asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.bench_scoring import calibration_lines, release_lines, scoring_lines
from pipeline.device import describe
from pipeline.dvc_cli import dvc_command
from pipeline.examples.shaped import SHAPES, build_shaped_model
from pipeline.fileio import read_json, write_text
from pipeline.gates import Gate
from pipeline.layout import Layout
from pipeline.monitor import STATS_ENV
from pipeline.progress import GIB, human_bytes, log
from pipeline.settings import Reader, SettingsFile
from pipeline.workspace import copy_source, stage_environment

STAGE = "bench-scale"
EXAMPLES = ("tiny-llama",)  # generate_example's outputs (dvc.yaml)


@dataclass(frozen=True)
class ScaleRun:
    shape: str  # examples/shaped.py's SHAPES entry the model is generated in (several runs can share one)
    min_tokens: int  # scored tokens (whole windows) of the reduced evaluation budget
    variants: tuple[str, ...]


@dataclass(frozen=True)
class BenchSpec:
    """params.yaml `bench`: the shaped models the scale benchmarks build, and the gate their variants get."""

    shapes: dict[str, ScaleRun]
    gate: Any


def read_bench(r: Reader, data: Any, where: str) -> BenchSpec:
    data = r.mapping(data, where)
    r.no_extra(data, {"scale", "gate"}, where)
    shapes = {}
    for name, entry in r.mapping(r.get(data, "scale", dict, where), f"{where}.scale").items():
        at = f"{where}.scale.{name}"
        entry = r.mapping(entry, at)
        r.no_extra(entry, {"shape", "min_tokens", "variants"}, at)
        shape = r.choice({"shape": name, **entry}, "shape", at, tuple(SHAPES))  # by default the entry's own name
        shapes[name] = ScaleRun(shape, r.positive(entry, "min_tokens", at), r.texts(entry, "variants", at))
    return BenchSpec(shapes, r.section(r.get(data, "gate", dict, where), f"{where}.gate", Gate))


def _workspace_params(source: dict[str, Any], name: str, model_dir: Path, run: ScaleRun, gate: Any) -> dict:
    """The project's params.yaml, building only the shaped model with the run's variants and budget."""
    params = dict(source)
    params["models"] = {name: {"source": str(model_dir), "license": "Apache-2.0"}}
    params["evaluation"] = {**params["evaluation"], "min_tokens": run.min_tokens}
    for fmt in ("gguf", "onnx"):
        params[fmt] = {**params[fmt], "variants": {v: s for v, s in params[fmt]["variants"].items()
                                                   if v in run.variants}}
    params["variants"] = {**params["gguf"]["variants"], **params["onnx"]["variants"]}
    bounds = {k: v for k, v in gate.__dict__.items() if v is not None}
    params["gates"] = {v: bounds for v in params["variants"]}
    return params


def stage_memory_ceiling(weight_bytes: int) -> int:
    """What a stage working on `weight_bytes` of weights may use: 1.25 x them + 1.5 GiB (issue 16's ceiling,
    which the benchmarks measure every stage against; pipeline/cluster.py reserves it for every model stage)."""
    return int(1.25 * weight_bytes + 1.5 * GIB)


def _ceiling(row: dict[str, Any], weights: int, onnx_bytes: dict[str, int]) -> int:
    """The stage's memory ceiling: 1.25 x the larger of the checkpoint and the ONNX weights it reads or writes
    (the float32 base it exports or quantizes from, the variant it evaluates or releases) + 1.5 GiB."""
    args = row["args"]
    touched = onnx_bytes.get(args.get("variant", ""), 0)
    if args.get("format") == "onnx" or (row["stage"] == "quantize" and touched):
        touched = max(touched, onnx_bytes["base"])
    return stage_memory_ceiling(max(weights, touched))


def _disk(path: Path) -> int:
    """Bytes the folder takes on disk, each hard-linked file once (`du`)."""
    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def bench_folder(layout: Layout, name: str) -> Path:
    """build/bench/<name>: a run's workspace, or with `models` the generated models."""
    return (layout.root / "build" / "bench" / name).resolve()


def run_shape(name: str, run: ScaleRun, gate: Any, layout: Layout, resume: bool = False) -> tuple[str, bool]:
    """Build everything for the shaped model `name` in its own workspace; the results as a table and whether
    `dvc repro` succeeded. With
    `resume`, an interrupted run's workspace is kept and `dvc repro` goes on from its finished stages
    (their rows recorded then stay in the table)."""
    model_dir = build_shaped_model(run.shape, layout.corpus, bench_folder(layout, "models") / run.shape)
    weights = sum(p.stat().st_size for p in model_dir.glob("*.safetensors"))
    project = bench_folder(layout, name)
    stats = project / "stage-stats.jsonl"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # the stages' `python` is this one
    env = {**os.environ, **stage_environment(project), STATS_ENV: str(stats), "PATH": path}
    if not (resume and stats.is_file()):
        shutil.rmtree(project, ignore_errors=True)
        copy_source(project)
        source = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
        (project / "params.yaml").write_text(yaml.safe_dump(_workspace_params(source, name, model_dir, run, gate),
                                                            sort_keys=False), encoding="utf-8")
        _seed_examples(layout, project, env)
    log(STAGE, f"{name}: dvc repro in {project} ({human_bytes(weights)} of bf16 weights, "
               f"{run.min_tokens} scored tokens, variants {', '.join(run.variants)})")
    start = time.monotonic()
    with open(project / "repro.log", "a" if resume else "w", encoding="utf-8") as out:
        # --keep-going: a variant that fails (a gate, a check) leaves the others to be measured.
        code = subprocess.run([dvc_command(), "repro", "--keep-going"], cwd=project, env=env, stdout=out,
                              stderr=subprocess.STDOUT).returncode
    wall = time.monotonic() - start
    rows = [json.loads(line) for line in stats.read_text(encoding="utf-8").splitlines()]
    built = Layout(project)
    onnx_bytes = {"base": _onnx_weights(built.base(name, "onnx"))}
    onnx_bytes |= {v: _onnx_weights(built.artifact(name, v)) for v in run.variants if v.startswith("onnx-")}
    lines = [f"{name}: {human_bytes(weights)} of bf16 weights, {run.min_tokens} scored tokens (reduced budget), "
             f"variants {', '.join(run.variants)}; dvc repro {'ok' if code == 0 else f'FAILED ({code})'} in "
             f"{wall / 60:.1f} min{' (resumed: the stages before were timed in the first run)' if resume else ''}",
             "",
             f"{'stage':<40} {'wall s':>8} {'peak RSS':>10} {'x bf16':>7} {'ceiling':>10}  within"]
    for row in rows:
        args = row["args"]
        ceiling, label = _ceiling(row, weights, onnx_bytes), row["stage"] + (f"@{args['model']}" if "model" in args
                                                                             else "")
        label += f"-{args['variant']}" if "variant" in args else f"-{args['format']}" if "format" in args else ""
        lines.append(f"{label:<40} {row['wall_s']:>8.1f} {human_bytes(row['peak_rss_bytes']):>10} "
                     f"{row['peak_rss_bytes'] / weights:>7.2f} {human_bytes(ceiling):>10}  "
                     f"{'yes' if row['peak_rss_bytes'] <= ceiling else 'NO'}{'' if row['ok'] else ' (failed)'}")
    # `dvc repro` writes release records; manifests/ is filled by `modelprep collect`, which this run leaves out.
    released = tuple(v for v in run.variants if built.release_record(name, v).is_file())
    evaluated = tuple(v for v in run.variants if built.metrics(name, v).is_file())
    lines += ["", _disk_line(project, built, name, weights, released), "", *_gate_lines(built, name, evaluated, released)]
    if evaluated:  # a variant's scoring speed is measured whether or not it passes its gate
        lines += ["", *scoring_lines(project, name, evaluated)]
    if released:
        lines += ["", *release_lines(project, name, released, rows)]
    lines += ["", *calibration_lines(project, name, evaluated)]
    return "\n".join(lines), code == 0


def _seed_examples(layout: Layout, project: Path, env: dict[str, str]) -> None:
    """This checkout's corpus and example models, committed to the workspace's DVC as built: every
    model's import depends on build/examples, and training the example again would add a quarter of an
    hour that says nothing about the shaped model. Nothing is seeded when this checkout has not built them."""
    built = [layout.corpus, *(layout.example(n) for n in EXAMPLES)]
    if not all(p.is_dir() for p in built):
        return
    target = Layout(project)
    for path, copy in zip(built, [target.corpus, *(target.example(n) for n in EXAMPLES)], strict=True):
        shutil.copytree(path, copy)
    subprocess.run([dvc_command(), "commit", "--force", "--quiet", "corpus", "generate_example"], cwd=project,
                   check=True, env=env)
    log(STAGE, f"corpus and example models taken from {layout.root / 'build'} (dvc commit), not rebuilt")


def _onnx_weights(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("model.onnx*")) if folder.is_dir() else 0


def _gate_lines(built: Layout, name: str, evaluated: tuple[str, ...], released: tuple[str, ...]) -> list[str]:
    """Each evaluated variant's closeness to the reference (the shapes are decoders) and whether it passed the
    benchmark's gate."""
    lines = [f"{'variant':<16} {'mean KLD':>10} {'same top-1':>11}  released"]
    for variant in evaluated:
        accuracy = read_json(built.metrics(name, variant))["accuracy"]
        lines.append(f"{variant:<16} {accuracy['mean_kld']:>10.4g} {accuracy['same_top1']:>11.3f}  "
                     f"{'yes' if variant in released else 'NO (gate)'}")
    return lines


def _disk_line(project: Path, built: Layout, name: str, weights: int, released: tuple[str, ...]) -> str:
    """The workspace's disk use against the distinct bytes the build made (each inode once: onnx-fp32's
    files are links of the base's), the source's linked copy aside; and what CARs would add."""
    inodes = {}
    for path in built.model(name).rglob("*"):
        if path.is_file() and built.hf(name) not in path.parents:
            info = path.stat()
            inodes[(info.st_dev, info.st_ino)] = info.st_size
    made, used = sum(inodes.values()), _disk(project)
    cars = sum(read_json(built.release_record(name, v))["content"]["car"]["size"] for v in released)
    return (f"disk: the workspace takes {human_bytes(used)} (build and DVC cache, hard links counted once) for "
            f"{human_bytes(made)} of distinct artifact and record bytes and the {human_bytes(weights)} source: "
            f"{(used - weights) / made:.2f}x the artifacts beside the source. A pin target that takes CAR files "
            f"(car, kubo) writes one per package: {human_bytes(cars)} more, "
            f"{(used - weights + cars) / made:.2f}x")


def main(arguments: list[str]) -> None:
    """`python -m pipeline.bench_scale [--resume] [SHAPE...]` (default: the first shape of params.yaml)."""
    settings = SettingsFile.load()
    spec = settings.read("bench", read_bench)
    layout = Layout()
    device = describe("cpu")  # the stages' memory and time are the host's; evaluation may add a GPU
    resume = "--resume" in arguments
    names = [a for a in arguments if a != "--resume"]
    names = names or list(spec.shapes)[:1]
    for i, name in enumerate(names):
        table, ok = run_shape(name, spec.shapes[name], spec.gate, layout, resume)
        report = f"modelprep bench-scale on {device}\n\n{table}"
        print(report)
        path = layout.root / "benchmarks" / f"scale-{name}.txt"
        write_text(path, report + "\n")
        print(f"\nsaved to {path}")
        if ok and i + 1 < len(names):  # a 7B workspace is tens of GB: the next run needs that disk
            shutil.rmtree(bench_folder(layout, name))
            log(STAGE, f"{name}: workspace removed (its table is saved) to make room for {names[i + 1]}")


if __name__ == "__main__":
    main(sys.argv[1:])
