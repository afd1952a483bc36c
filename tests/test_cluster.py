"""`make release RAY=...`: the stages on a real two-node Ray cluster started here (`ray start --head` and a
worker node joining it, each with its own temporary folder), sharing their outputs through a real S3
server process (moto) as the DVC remote."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import yaml

from pipeline.bench_scale import stage_memory_ceiling
from pipeline.cluster import _resources
from pipeline.params import load_params
from pipeline.workspace import copy_source
from tests.project import BIN, dvc, modelprep, ran_stages, write_params
from tests.servers.process import free_port
from tests.servers.s3 import MotoS3

# A share of the shipped examples: both models, one variant per format.
VARIANTS = ("Q8_0", "onnx-int8")
STAGE_FINISHED = re.compile(r"\[ray\] (\S+): (?:ran|restored) on node (\S+) in")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def _ray(*args: str, env: dict, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "ray"), *args], env={**os.environ, **env, "RAY_USAGE_STATS_ENABLED": "0"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **kwargs)


class Cluster:
    """A Ray head node and one worker node on this machine; the worker's tasks put their workspaces under
    a temporary folder of its own, which is how the test sees a stage running there."""

    def __init__(self, env: dict):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Ray's socket paths must stay under 108 characters: short folders in /tmp.
        self.head_tmp = Path(tempfile.mkdtemp(prefix="rayh-", dir="/tmp"))
        self.worker_tmp = Path(tempfile.mkdtemp(prefix="rayw-", dir="/tmp"))
        self.env = env
        self.worker: subprocess.Popen | None = None

    def __enter__(self) -> Cluster:
        head = _ray("start", "--head", "--port", str(self.port), "--num-cpus", "2", "--include-dashboard", "false",
                    "--temp-dir", str(self.head_tmp), "--block", env={**self.env, "TMPDIR": str(self.head_tmp)})
        self.head = head
        self._wait_for(1)
        self.worker = _ray("start", "--address", self.address, "--num-cpus", "2", "--block",
                           env={**self.env, "TMPDIR": str(self.worker_tmp)})
        self._wait_for(2)
        return self

    def _wait_for(self, nodes: int) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = subprocess.run([str(BIN / "ray"), "status", "--address", self.address], capture_output=True,
                                    text=True)
            if status.returncode == 0 and status.stdout.count("node_") >= nodes:
                return
            time.sleep(1)
        raise AssertionError(f"the Ray cluster never had {nodes} node(s): {status.stdout[-2000:]}{status.stderr[-2000:]}")

    def worker_is_running_a_stage(self) -> bool:
        workspaces = self.worker_tmp / "modelprep-ray"
        return workspaces.is_dir() and any(p.name != "cache" for p in workspaces.iterdir())

    def kill_worker(self) -> None:
        os.killpg(self.worker.pid, signal.SIGKILL)  # the node's raylet and every worker process of it
        self.worker.wait()

    def __exit__(self, *exc) -> None:
        for process in (self.worker, self.head):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        subprocess.run([str(BIN / "ray"), "stop", "--force"], capture_output=True)
        for folder in (self.head_tmp, self.worker_tmp):
            subprocess.run(["rm", "-rf", str(folder)])


def _share_of_the_examples(project: Path) -> None:
    path = project / "params.yaml"
    data = yaml.safe_load(path.read_text())
    for fmt in ("gguf", "onnx"):
        data[fmt]["variants"] = {v: s for v, s in data[fmt]["variants"].items() if v in VARIANTS}
    write_params(path, data)


def test_a_release_on_a_two_node_ray_cluster_survives_a_killed_worker(built, tmp_path):
    """Every stage a Ray task, on both nodes; the worker killed while a stage runs there; the build still
    ends with every stage restored by the local repro (none run), and its manifests and dvc.lock entries
    the same bytes as the local build's."""
    project = copy_source(tmp_path / "project")
    _share_of_the_examples(project)
    with MotoS3() as s3:
        env = {**CREDENTIALS, "MODELPREP_S3_ENDPOINT": s3.url}
        import boto3

        boto3.client("s3", endpoint_url=s3.url, region_name="us-east-1", aws_access_key_id="test",
                     aws_secret_access_key="test").create_bucket(Bucket="builds")
        remote = "s3://builds/cluster"
        with Cluster(CREDENTIALS) as cluster:
            command = [str(BIN / "modelprep"), "repro", "--remote", remote, "--ray", cluster.address]
            build = subprocess.Popen(command, cwd=project, env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}",
                                                                 "PYTHONPATH": str(project), **env},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            lines: list[str] = []
            reader = threading.Thread(target=lambda: lines.extend(build.stderr), daemon=True)
            reader.start()
            killed = False
            deadline = time.monotonic() + 3000
            while build.poll() is None and time.monotonic() < deadline:
                # Once both nodes have finished a stage, the worker is killed in the middle of its next one.
                if not killed and len({node for _, node in STAGE_FINISHED.findall("".join(lines))}) >= 2 and \
                        cluster.worker_is_running_a_stage():
                    time.sleep(2)  # well inside the stage: its workspace unpacked, DVC running
                    cluster.kill_worker()
                    killed = True
                time.sleep(0.2)
            stdout = build.stdout.read()
            build.wait(timeout=60)
            reader.join(timeout=60)
            stderr = "".join(lines)
        assert build.returncode == 0, stderr[-6000:]
        print(stderr)  # the placement, with pytest -s
        assert killed, "the worker node was never killed in the middle of a stage"
        finished = STAGE_FINISHED.findall(stderr)
        stages = dvc("stage", "list", "--name-only", cwd=project).stdout.split()
        assert sorted(stage for stage, _ in finished) == sorted(stages), "every stage finished once, as a Ray task"
        assert len({node for _, node in finished}) == 2, f"stages ran on both nodes: {finished}"
        # The local repro after the cluster's: everything restored from the remote, nothing run.
        assert ran_stages(stdout) == set()
        modelprep("collect", cwd=project)
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    local = yaml.safe_load((built / "dvc.lock").read_text())["stages"]
    for model in ("tiny-llama", "all-minilm-l6-v2"):
        for variant in VARIANTS:
            release = f"manifests/{model}/{variant}.json"
            assert (project / release).read_bytes() == (built / release).read_bytes(), release
            for stage in (f"evaluate@{model}-{variant}", f"release@{model}-{variant}"):
                assert lock[stage]["outs"] == local[stage]["outs"], stage


def test_ray_without_a_shared_remote_is_one_clear_error(tmp_path):
    """The stages' tasks share their outputs only through the remote: none set is refused before any work."""
    project = copy_source(tmp_path / "project")
    result = modelprep("repro", "--remote", "", "--ray", "127.0.0.1:1", cwd=project, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        "modelprep: error: RAY: stages on a Ray cluster share their outputs through the shared DVC remote")
    assert not (project / "build").exists() and not (project / "dvc.lock").exists()


def test_each_task_asks_for_the_threads_its_stage_runs_with():
    """The training example asks for its own thread count, model stages for the evaluation's and the memory
    ceiling of their model's weights, bookkeeping for one CPU (distinct counts, so a swap would show)."""
    shipped = load_params(Path(__file__).resolve().parent.parent / "params.yaml")
    params = replace(shipped, tiny_llama=replace(shipped.tiny_llama, threads=3),
                     evaluation=replace(shipped.evaluation, threads=5, device="cpu"))
    weights = {"tiny-llama": 10 * 2**20}
    assert _resources("generate_example", params, weights, gpus=True) == {"num_cpus": 3}
    assert _resources("evaluate@tiny-llama-Q8_0", params, weights, gpus=True) == {
        "num_cpus": 5, "memory": stage_memory_ceiling(10 * 2**20)}
    assert _resources("release@tiny-llama-Q8_0", params, weights, gpus=True) == {"num_cpus": 1}
