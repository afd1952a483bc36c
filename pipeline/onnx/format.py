"""The ONNX format as the evaluator and the release stage see it: a directory run by ONNX Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.device import resolve_device
from pipeline.fileio import tree_files
from pipeline.onnx.files import model_bytes
from pipeline.onnx.inspect import describe_onnx
from pipeline.onnx.variants import ONNX_VARIANTS
from pipeline.params import EvaluationSpec, Params
from pipeline.runtimes.base import Runtime


class ONNXFormat:
    name = "onnx"
    library = "onnxruntime"  # the runtime's Python module

    def open(self, artifact: Path, kind: str, spec: EvaluationSpec) -> Runtime:
        from pipeline.runtimes.onnxruntime import OnnxRuntime, cuda_provider_built

        device = resolve_device(spec.device, "ONNX Runtime", cuda_provider_built())
        return OnnxRuntime(artifact, kind, device, spec.threads, spec.allow_cpu_fallback, spec.max_sentence_tokens)

    def size(self, artifact: Path, parameters: int) -> dict[str, Any]:
        size = model_bytes(artifact)
        return {"bits_per_weight": round(8 * size / parameters, 4), "bytes": size}

    def files(self, artifact: Path) -> list[Path]:
        return tree_files(artifact)

    def record(self, params: Params, variant: str, artifact: Path) -> dict[str, Any]:
        chosen = ONNX_VARIANTS[variant]
        return {"onnx": describe_onnx(artifact),
                "quantization": {**chosen.quantization(params.onnx), "base": "float32 export (optimum-onnx)",
                                 "precision": chosen.precision, "type": variant}}
