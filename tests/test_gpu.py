"""The CUDA path: validation on a GPU agrees with the CPU figures. Runs only where CUDA exists.

MODELPREP_GPU_REPORT=DIR keeps each test's figures there (gpu-VARIANT-{metrics,run,timing,performance}.json),
written before they are checked, so a failing run still shows them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.device import cuda_available
from pipeline.formats.gguf.runtime import gpu_offload_supported
from pipeline.formats.onnx.runtime import cuda_provider_built
from pipeline.layout import Layout
from pipeline.params import load_params
from pipeline.runtimes.torch_hf import torch_cuda_build

pytestmark = pytest.mark.skipif(not cuda_available(), reason="needs a CUDA GPU; this machine has none")
REPORT_ENV = "MODELPREP_GPU_REPORT"


MODEL = "tiny-llama"


def cuda_layout(built: Path, root: Path, variant: str) -> Layout:
    """A scratch layout under `root` holding the built variant and what its reference is made from."""
    ours, theirs = Layout(root), Layout(built)
    for name in ("artifact", "hf", "source_record"):
        args = (MODEL, variant) if name == "artifact" else (MODEL,)
        target = getattr(ours, name)(*args)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(getattr(theirs, name)(*args))
    ours.corpus.parent.mkdir(parents=True, exist_ok=True)
    ours.corpus.symlink_to(theirs.corpus)
    return ours


def build_cuda_reference(built: Path, root: Path) -> None:
    """The reference on CUDA in a process of its own, as the pipeline's reference stage runs it."""
    code = ("import dataclasses, sys; from pathlib import Path; from pipeline.params import load_params; "
            "from pipeline.layout import Layout; from pipeline.reference import build_reference; "
            "spec = dataclasses.replace(load_params(Path(sys.argv[1]) / 'params.yaml').evaluation, device='cuda'); "
            f"build_reference({MODEL!r}, spec, Layout(Path(sys.argv[2])))")
    subprocess.run([sys.executable, "-c", code, str(built), str(root)], check=True)


def validate_on_cuda(built: Path, tmp_path: Path, variant: str):
    from pipeline.fileio import write_json
    from pipeline.performance import measure_in_child
    from pipeline.validate import validate_variant

    layout = cuda_layout(built, tmp_path, variant)
    params = load_params(built / "params.yaml")
    build_cuda_reference(built, tmp_path)
    evaluation = dataclasses.replace(params.evaluation, device="cuda")
    validate_variant(params.variant(variant), MODEL, evaluation, params.probes, layout)
    # What `modelprep measure` runs for the variant's measured file, on CUDA.
    performance = tmp_path / "performance.json"
    write_json(performance, measure_in_child(params.variant(variant).format.name, layout.artifact(MODEL, variant),
                                             layout.reference(MODEL), evaluation, params.performance))
    outputs = {"metrics": layout.metrics(MODEL, variant), "run": layout.evaluation(MODEL, variant),
               "timing": layout.timing(MODEL, variant), "performance": performance}
    if report := os.environ.get(REPORT_ENV):
        Path(report).mkdir(parents=True, exist_ok=True)
        for name, path in outputs.items():
            shutil.copyfile(path, Path(report) / f"gpu-{variant}-{name}.json")
    gpu = json.loads(outputs["metrics"].read_text())["accuracy"]
    cpu = json.loads(Layout(built).metrics(MODEL, variant).read_text())["accuracy"]
    run = json.loads(outputs["run"].read_text())
    assert run["device"]["candidate"]["device"].startswith("cuda:")
    assert gpu["mean_kld"] == pytest.approx(cpu["mean_kld"], abs=5e-4)
    assert gpu["same_top1"] == pytest.approx(cpu["same_top1"], abs=0.02)
    return run, json.loads(outputs["performance"].read_text())


@pytest.mark.skipif(cuda_available() and not gpu_offload_supported(),
                    reason="llama-cpp-python was built without CUDA (make setup CUDA=1)")
def test_llama_cpp_cuda_validation_agrees_with_cpu(built, tmp_path):
    validate_on_cuda(built, tmp_path, "Q8_0")


@pytest.mark.skipif(cuda_available() and not gpu_offload_supported(),
                    reason="llama-cpp-python was built without CUDA (make setup CUDA=1)")
@pytest.mark.skipif(cuda_available() and not torch_cuda_build(), reason="torch was installed without CUDA")
def test_llama_cpp_cuda_runs_after_torch_and_pyarrow_loaded_the_cxx_runtime(built):
    """The H200 crash (README "Devices"): llama.cpp's CUDA build segfaulted in model load wherever a C++
    extension had loaded libstdc++ first; pipeline/formats/gguf/binding.py is the remedy."""
    code = ("import sys, numpy, pyarrow.parquet, torch; from pathlib import Path; torch.zeros(1, device='cuda'); "
            "from pipeline.formats.gguf.runtime import LlamaCppRuntime; "
            "runtime = LlamaCppRuntime(Path(sys.argv[1]), 'decoder', 'cuda', 2, 128); "
            "print(len(list(runtime.generate(numpy.array([1, 2, 3]), 8))))")
    gguf = next(Layout(built).artifact(MODEL, "Q8_0").glob("*.gguf"))
    child = subprocess.run([sys.executable, "-c", code, str(gguf)], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.split()[-1] == "8"


@pytest.mark.skipif(cuda_available() and not cuda_provider_built(),
                    reason="onnxruntime-gpu is not installed (make setup CUDA=1)")
def test_onnx_runtime_cuda_validation_agrees_with_cpu(built, tmp_path):
    run, performance = validate_on_cuda(built, tmp_path, "onnx-int8")
    assert run["device"]["candidate"]["providers"][0] == "CUDAExecutionProvider"
    assert performance["runtime"]["providers"][0] == "CUDAExecutionProvider"
