"""The CUDA path: validation on a GPU agrees with the CPU figures. Runs only where CUDA exists."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline.device import cuda_available
from pipeline.params import load_params
from pipeline.runtimes.llama_cpp import gpu_offload_supported

pytestmark = pytest.mark.skipif(
    not (cuda_available() and gpu_offload_supported()),
    reason="needs a CUDA GPU visible to torch and llama-cpp-python built with CUDA (make setup LLAMA_CUDA=1)",
)


def test_cuda_validation_agrees_with_cpu(built, tmp_path):
    from pipeline.validate import build_reference, validate_variant

    spec = dataclasses.replace(load_params(built / "params.yaml").evaluation, device="cuda")
    model = built / "build/tiny-llama"
    build_reference("tiny-llama", model / "hf", model / "source.json", built / "build/corpus", spec,
                    tmp_path / "reference")
    validate_variant("tiny-llama", "Q8_0", model / "gguf/tiny-llama-Q8_0.gguf", tmp_path / "reference", spec,
                     tmp_path / "metrics.json", tmp_path / "run.json")
    gpu = json.loads((tmp_path / "metrics.json").read_text())["accuracy"]
    cpu = json.loads((built / "metrics/tiny-llama/Q8_0.json").read_text())["accuracy"]
    assert json.loads((tmp_path / "run.json").read_text())["device"]["candidate"]["device"].startswith("cuda:")
    assert gpu["mean_kld"] == pytest.approx(cpu["mean_kld"], abs=5e-4)
    assert gpu["same_top1"] == pytest.approx(cpu["same_top1"], abs=0.02)
