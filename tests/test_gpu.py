"""The CUDA path: validation on a GPU agrees with the CPU figures. Runs only where CUDA exists.

MODELPREP_GPU_REPORT=DIR keeps each test's figures there (gpu-VARIANT-{metrics,run,performance}.json),
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
from pipeline.params import load_params
from pipeline.runtimes.llama_cpp import gpu_offload_supported
from pipeline.runtimes.onnxruntime import cuda_provider_built

pytestmark = pytest.mark.skipif(not cuda_available(), reason="needs a CUDA GPU; this machine has none")
REPORT_ENV = "MODELPREP_GPU_REPORT"


def build_cuda_reference(built, out):
    """The reference on CUDA in a process of its own, as the pipeline's reference stage runs it: llama.cpp's
    CUDA build crashed (segfault in model load) in a process where torch had initialised CUDA first
    (H100, torch 2.11 cu130, llama.cpp 0c1e57098; see the README's Devices section)."""
    code = ("import dataclasses, sys; from pathlib import Path; from pipeline.params import load_params; "
            "from pipeline.validate import build_reference; built = Path(sys.argv[1]); m = built / 'build/tiny-llama'; "
            "spec = dataclasses.replace(load_params(built / 'params.yaml').evaluation, device='cuda'); "
            "build_reference('tiny-llama', m / 'hf', m / 'source.json', built / 'build/corpus', spec, Path(sys.argv[2]))")
    subprocess.run([sys.executable, "-c", code, str(built), str(out)], check=True)


def validate_on_cuda(built, tmp_path, variant, artifact):
    from pipeline.validate import validate_variant

    params = load_params(built / "params.yaml")
    params = dataclasses.replace(params, evaluation=dataclasses.replace(params.evaluation, device="cuda"))
    build_cuda_reference(built, tmp_path / "reference")
    validate_variant(params, "tiny-llama", variant, artifact, tmp_path / "reference", tmp_path / "metrics.json",
                     tmp_path / "run.json", tmp_path / "performance.json")
    if report := os.environ.get(REPORT_ENV):
        Path(report).mkdir(parents=True, exist_ok=True)
        for name in ("metrics", "run", "performance"):
            shutil.copyfile(tmp_path / f"{name}.json", Path(report) / f"gpu-{variant}-{name}.json")
    gpu = json.loads((tmp_path / "metrics.json").read_text())["accuracy"]
    cpu = json.loads((built / f"metrics/tiny-llama/{variant}.json").read_text())["accuracy"]
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["device"]["candidate"]["device"].startswith("cuda:")
    assert gpu["mean_kld"] == pytest.approx(cpu["mean_kld"], abs=5e-4)
    assert gpu["same_top1"] == pytest.approx(cpu["same_top1"], abs=0.02)
    return run, json.loads((tmp_path / "performance.json").read_text())


@pytest.mark.skipif(cuda_available() and not gpu_offload_supported(),
                    reason="llama-cpp-python was built without CUDA (make setup CUDA=1)")
def test_llama_cpp_cuda_validation_agrees_with_cpu(built, tmp_path):
    validate_on_cuda(built, tmp_path, "Q8_0", built / "build/tiny-llama/gguf/tiny-llama-Q8_0.gguf")


@pytest.mark.skipif(cuda_available() and not cuda_provider_built(),
                    reason="onnxruntime-gpu is not installed (make setup CUDA=1)")
def test_onnx_runtime_cuda_validation_agrees_with_cpu(built, tmp_path):
    run, performance = validate_on_cuda(built, tmp_path, "onnx-int8", built / "build/tiny-llama/onnx/onnx-int8")
    assert run["device"]["candidate"]["providers"][0] == "CUDAExecutionProvider"
    assert performance["runtime"]["providers"][0] == "CUDAExecutionProvider"
