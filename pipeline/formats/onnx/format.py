"""The ONNX format: a variant is a directory (model, weights, tokenizer, config) run by ONNX Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.device import resolve_device
from pipeline.formats.base import Format, QuantizeInputs, Variant
from pipeline.formats.onnx.export import export_onnx
from pipeline.formats.onnx.files import DATA_FILE, GENAI_CONFIG, MODEL_FILE, model_bytes
from pipeline.formats.onnx.inspect import describe_onnx
from pipeline.formats.onnx.memory import OnnxRuntimeMemory
from pipeline.formats.onnx.quantize import quantize_onnx
from pipeline.formats.onnx.requirements import onnxruntime_requirements
from pipeline.formats.onnx.settings import read_onnx_settings

GENAI = "onnxruntime-genai"


class ONNX(Format):
    name = "onnx"
    colour = "#d62728"
    runtime_library = "onnxruntime"
    runtimes = ("onnxruntime", GENAI)
    memory = OnnxRuntimeMemory()

    def read_settings(self, r, data, where):
        return read_onnx_settings(r, data, where)

    def build_base(self, hf_dir, kind, settings, out_dir):
        export_onnx(hf_dir, kind, settings.opset, settings.external_data_min_bytes, out_dir)

    def quantize(self, variant: Variant, model: str, inputs: QuantizeInputs, out_dir: Path) -> float:
        chosen = variant.settings
        return quantize_onnx(inputs.base_dir, chosen.method, chosen.settings,
                             variant.format_settings.external_data_min_bytes, inputs.corpus_dir, out_dir)

    def base_bytes(self, settings, parameters):
        return 4 * parameters  # float32

    def variant_bytes(self, variant, parameters):
        chosen = variant.settings
        return int(parameters * chosen.method.bits_per_weight(chosen.settings) / 8)

    def size(self, artifact: Path, parameters: int) -> dict[str, Any]:
        size = model_bytes(artifact)
        return {"bits_per_weight": round(8 * size / parameters, 4), "bytes": size}

    def recognises(self, path: Path) -> bool:
        return (path / MODEL_FILE).is_file()

    def describe(self, path: Path) -> dict[str, Any]:
        return describe_onnx(path)

    def quantization(self, variant: Variant, artifact: Path) -> dict[str, Any]:
        chosen = variant.settings
        return {**chosen.method.quantization(chosen.settings), "base": "float32 export",
                "precision": chosen.method.precision, "type": variant.name}

    def file_role(self, name: str) -> str | None:
        return {MODEL_FILE: "model", DATA_FILE: "external-data", GENAI_CONFIG: "engine-config"}.get(name)

    def gpu_build(self) -> bool:
        from pipeline.formats.onnx.runtime import cuda_provider_built

        return cuda_provider_built()

    def open(self, artifact, kind, spec):
        from pipeline.formats.onnx.runtime import OnnxRuntime

        device = resolve_device(spec.device, "ONNX Runtime", self.gpu_build())
        return OnnxRuntime(artifact, kind, device, spec.threads, spec.allow_cpu_fallback, spec.max_sentence_tokens)

    def requirements(self, record):
        return onnxruntime_requirements(record)

    def runtime_problem(self, runtime, manifest):
        if runtime == GENAI and not manifest.data.get("onnx", {}).get("genai_config"):
            return f"{GENAI} needs genai_config.json, which this variant (an encoder?) does not have"
        return None
