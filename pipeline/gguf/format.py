"""The GGUF format as the evaluator and the release stage see it: one file run by llama.cpp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.device import resolve_device
from pipeline.gguf.filetypes import file_type
from pipeline.gguf.inspect import describe_gguf
from pipeline.params import EvaluationSpec, Params
from pipeline.runtimes.base import Runtime


class GGUFFormat:
    name = "gguf"
    library = "llama_cpp"  # the runtime's Python module

    def open(self, artifact: Path, kind: str, spec: EvaluationSpec) -> Runtime:
        from pipeline.runtimes.llama_cpp import LlamaCppRuntime, gpu_offload_supported

        n_ctx = spec.window if kind == "decoder" else spec.max_sentence_tokens
        device = resolve_device(spec.device, "llama.cpp", gpu_offload_supported())
        return LlamaCppRuntime(artifact, kind, device, spec.threads, n_ctx)

    def size(self, artifact: Path, parameters: int) -> dict[str, Any]:
        # Tensor data over tensor elements, as llama.cpp reports it; the file adds vocabulary and metadata.
        return {"bits_per_weight": describe_gguf(artifact)["bits_per_weight"], "bytes": artifact.stat().st_size}

    def files(self, artifact: Path) -> list[Path]:
        return [artifact]

    def record(self, params: Params, variant: str, artifact: Path) -> dict[str, Any]:
        ftype = file_type(variant)
        return {"gguf": describe_gguf(artifact),
                "quantization": {"base": params.gguf.outtype, "llama_ftype": ftype.ftype, "precision": ftype.precision,
                                 "type": variant}}
