"""The pipeline's stages on a Ray cluster: `make release RAY=<address>` (`modelprep repro --ray`).

DVC runs one stage at a time per workspace; its maintainers' answer for more is one workspace per
worker sharing a remote and its run-cache, which is what this is. The driver reads the stage graph
from dvc.yaml and submits one Ray task per stage once the stages it depends on have finished. Each
task, on whichever node Ray places it, unpacks this checkout's source files (sent once through Ray's
object store) into a workspace of its own, with a DVC cache shared by the workspaces of that node;
pulls the shared remote's run-cache; runs `dvc repro --pull <stage>`, so the stages upstream of it
are restored from the remote (each was pushed by its own task) and only that stage runs; pushes its
outputs and the run-cache; and deletes the workspace. The driver then runs the usual local
`dvc repro --pull` (remote.repro), which restores every stage and runs none.

Resources per task: CPU threads (params.yaml evaluation.threads) for the stages that run a model,
the example's training threads (examples.tiny-llama.threads) for generate_example, one CPU for the
rest; memory from the model's bf16 weight bytes (1.25 x weights + 1.5 GiB, the ceiling every stage
is measured against in benchmarks/), learnt from the model's import_model task,
so Ray never places a 7B evaluation on a node that cannot hold it; one GPU for the reference,
evaluate and imatrix stages when evaluation.device is cuda (or auto on a cluster with GPUs).
A task whose node or worker dies is retried by Ray (`max_retries`), on a node that is still there;
a stage command that fails is not retried: the build fails naming the stage and its node, except
release stages, which the local repro runs again so a missed gate is reported as a local build
reports it.

Every node needs this project's Python environment (the venv with modelprep installed) and its
`.tools` at the same path as the driver: on one machine that holds; on a real cluster it is the
node image. Credentials for an S3 remote come from each node's own boto3 chain.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline import remote
from pipeline.dvc_cli import dvc_command
from pipeline.bench_scale import stage_memory_ceiling
from pipeline.errors import ERROR_PREFIX, ModelprepError
from pipeline.params import Params
from pipeline.progress import eta, human_bytes, log
from pipeline.workspace import source_files, stage_environment

STAGE = "ray"
# Stages that run a model, with evaluation.threads threads; the rest are bookkeeping.
MODEL_STAGES = frozenset({"reference", "convert_gguf", "imatrix", "quantize_gguf", "export_onnx", "quantize_onnx",
                          "evaluate"})
GPU_STAGES = frozenset({"reference", "evaluate", "imatrix"})
RETRIES = 2  # Ray's retries of a task whose worker or node died


@dataclass(frozen=True)
class StageResult:
    """What a stage's task reports back to the driver."""

    node: str  # the node's address and the start of its Ray id: several nodes can share an address
    elapsed: float
    ran: bool  # the stage's command ran (False: restored from the run-cache)
    weight_bytes: int  # import_model: the model's safetensors bytes; 0 otherwise


class StageFailed(Exception):
    """A stage command that failed on a node; its message names both, with DVC's last lines."""


def _snapshot(root: Path) -> tuple[bytes, str]:
    """This checkout's source files as a tar archive in memory, and its sha256."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in source_files(root):
            info = archive.gettarinfo(str(root / name), arcname=name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(root / name, "rb") as handle:
                archive.addfile(info, handle)
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def _node() -> str:
    import ray

    context = ray.get_runtime_context()
    return f"{ray.util.get_node_ip_address()}/{context.get_node_id()[:8]}"


def run_stage(snapshot: bytes, digest: str, stage: str, url: str, endpoint: str, tools: str) -> StageResult:
    """A Ray task: `stage` built in a workspace of its own on this node, its outputs pushed to `url`."""
    started = time.monotonic()
    node = _node()
    base = Path(tempfile.gettempdir()) / "modelprep-ray"
    base.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(prefix=f"{digest[:12]}-", dir=base))
    try:
        with tarfile.open(fileobj=io.BytesIO(snapshot)) as archive:
            archive.extractall(workspace, filter="data")
        if tools and Path(tools).is_dir():
            (workspace / ".tools").symlink_to(tools, target_is_directory=True)
        # Stages run `python`: this worker's interpreter, the project's environment on every node.
        env = {**os.environ, **stage_environment(workspace),
               "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
        subprocess.run(["git", "init", "-q"], cwd=workspace, check=True)
        remote.configure(workspace, url, endpoint)
        steps = [[dvc_command(), "cache", "dir", "--local", str(base / "cache")],  # shared by this node's tasks
                 [dvc_command(), "pull", "--run-cache", "--allow-missing", "--remote", remote.NAME],
                 [dvc_command(), "repro", "--pull", stage],
                 [dvc_command(), "push", "--run-cache", "--remote", remote.NAME]]
        ran = False
        for command in steps:
            result = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True)
            if result.returncode != 0:
                lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
                # the stage's own one-line error, else DVC's
                errors = [line for line in lines if line.startswith(ERROR_PREFIX)] or \
                    [line for line in lines if line.startswith("ERROR")] or lines
                raise StageFailed(f"{stage} failed on node {node}: {' '.join(command[1:3])}: "
                                  f"{errors[-1].strip() if errors else 'no output'}")
            ran = ran or f"Running stage '{stage}'" in result.stdout
        return StageResult(node, time.monotonic() - started, ran, _weight_bytes(workspace, stage))
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def _weight_bytes(workspace: Path, stage: str) -> int:
    """import_model: the model's safetensors bytes, from the source record it wrote."""
    if not stage.startswith("import_model@"):
        return 0
    record = workspace / "build" / stage.split("@", 1)[1] / "source.json"
    files = json.loads(record.read_text())["files"]
    return sum(entry["size"] for entry in files if entry["path"].endswith(".safetensors"))


def stage_graph(root: Path) -> dict[str, set[str]]:
    """Every stage of dvc.yaml and the stages whose outputs it reads."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        graph = repo.index.graph
        return {stage.addressing: {upstream.addressing for upstream in graph.successors(stage)}
                for stage in graph.nodes}


def _model_of(stage: str, models: list[str]) -> str | None:
    """The model a stage is of (`evaluate@tiny-llama-Q4_0` -> tiny-llama); the longest name that fits."""
    item = stage.partition("@")[2]
    fits = [m for m in models if item == m or item.startswith(m + "-")]
    return max(fits, key=len) if fits else None


def _resources(stage: str, params: Params, weights: dict[str, int], gpus: bool) -> dict:
    kind = stage.partition("@")[0]
    if kind == "generate_example":  # trains the example model with threads of its own
        return {"num_cpus": params.tiny_llama.threads}
    if kind not in MODEL_STAGES:
        return {"num_cpus": 1}
    model = _model_of(stage, list(params.models))
    options = {"num_cpus": params.evaluation.threads, "memory": stage_memory_ceiling(weights.get(model, 0))}
    device = params.evaluation.device
    if kind in GPU_STAGES and (device == "cuda" or (device == "auto" and gpus)):
        options["num_gpus"] = 1
    return options


def build(root: Path, url: str, address: str, params: Params) -> None:
    """Every stage of `root` built on the Ray cluster at `address`, through the shared remote `url`;
    an error naming the stage and node of the first stage that failed (release stages excepted)."""
    if not url:
        raise ModelprepError("RAY", "stages on a Ray cluster share their outputs through the shared DVC remote: "
                                    "set REMOTE=s3://bucket/prefix (or params.yaml remote.url) too")
    import ray

    graph = stage_graph(root)
    snapshot, digest = _snapshot(root)
    tools = str((root / ".tools").resolve()) if (root / ".tools").is_dir() else ""
    endpoint = os.environ.get(remote.ENDPOINT_ENV, "")
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise ModelprepError(f"RAY={address}", f"cannot join the Ray cluster: {str(err).splitlines()[0]}") from None
    try:
        nodes = [n for n in ray.nodes() if n["Alive"]]
        gpus = ray.cluster_resources().get("GPU", 0) > 0
        log(STAGE, f"{len(graph)} stages on {len(nodes)} node(s) of {address}; source {human_bytes(len(snapshot))} "
                   f"(sha256 {digest[:12]})")
        # SPREAD: a build farm's nodes share the load, rather than the driver's node filling up first.
        task = ray.remote(max_retries=RETRIES, retry_exceptions=False, scheduling_strategy="SPREAD")(run_stage)
        source = ray.put(snapshot)
        weights: dict[str, int] = {}
        placed: dict[str, list[str]] = {}  # node: the stages it built
        done: set[str] = set()
        failed: dict[str, str] = {}  # stage: why
        blocked: set[str] = set()  # not run: a stage it reads failed
        running: dict = {}
        started = time.monotonic()
        while True:
            for stage in sorted(graph):
                if stage in done or stage in failed or stage in blocked or stage in running.values():
                    continue
                if graph[stage] & (set(failed) | blocked):
                    blocked.add(stage)
                elif graph[stage] <= done:
                    options = _resources(stage, params, weights, gpus)
                    running[task.options(**options).remote(source, digest, stage, url, endpoint, tools)] = stage
                    memory = f", {human_bytes(options['memory'])}" if "memory" in options else ""
                    gpu = ", 1 GPU" if "num_gpus" in options else ""
                    log(STAGE, f"{stage}: started ({options['num_cpus']} CPU{memory}{gpu})")
            if not running:
                break
            [ref], _ = ray.wait(list(running), num_returns=1)
            stage = running.pop(ref)
            try:
                result: StageResult = ray.get(ref)
            except ray.exceptions.RayTaskError as err:
                cause = err.cause if isinstance(err.cause, StageFailed) else err
                failed[stage] = str(cause).strip().splitlines()[-1] if str(cause).strip() else stage
                log(STAGE, f"{stage}: FAILED: {failed[stage]}")
                continue
            except ray.exceptions.RayError as err:  # its node went away more often than Ray retries
                failed[stage] = f"{stage} lost after {RETRIES} retries: {type(err).__name__}"
                log(STAGE, f"{stage}: FAILED: {failed[stage]}")
                continue
            done.add(stage)
            placed.setdefault(result.node, []).append(stage)
            if result.weight_bytes:
                weights[_model_of(stage, list(params.models)) or ""] = result.weight_bytes
            count = len(done) + len(failed)
            elapsed = time.monotonic() - started
            log(STAGE, f"{stage}: {'ran' if result.ran else 'restored'} on node {result.node} in "
                       f"{result.elapsed:.1f} s [{count}/{len(graph)}]{eta(count, len(graph), elapsed)}")
        for node, stages in sorted(placed.items()):
            log(STAGE, f"node {node}: {len(stages)} stage(s): {', '.join(stages)}")
    finally:
        ray.shutdown()
    fatal = [reason for stage, reason in failed.items() if not stage.startswith("release@")]
    if fatal:
        raise ModelprepError(f"RAY={address}", fatal[0] + (f" (and {len(fatal) - 1} more)" if len(fatal) > 1 else ""))
