"""The GGUF format: a variant is a folder holding one GGUF file, run by llama.cpp."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipeline.device import resolve_device
from pipeline.diskspace import checkpoint_parameters
from pipeline.errors import ModelprepError
from pipeline.fileio import atomic_path
from pipeline.formats.base import Format, Variant
from pipeline.formats.gguf.convert import convert_to_gguf
from pipeline.formats.gguf.filetypes import file_type
from pipeline.formats.gguf.inspect import describe_gguf
from pipeline.formats.gguf.memory import LlamaCppMemory
from pipeline.formats.gguf.quantize import quantize_gguf
from pipeline.formats.gguf.requirements import llama_cpp_requirements
from pipeline.formats.gguf.settings import read_gguf_settings

BASE_FILE = "base.gguf"


def gguf_file(path: Path) -> Path:
    """The GGUF file of an artifact: the file itself, or the one GGUF file in its folder."""
    if path.is_file():
        return path
    found = sorted(path.glob("*.gguf")) if path.is_dir() else []
    if len(found) != 1:
        raise ModelprepError(path, f"expected one GGUF file in the folder, found {len(found)}; rebuild it")
    return found[0]


class GGUF(Format):
    name = "gguf"
    colour = "#1f77b4"
    runtime_library = "llama_cpp"
    runtimes = ("llama.cpp",)
    memory = LlamaCppMemory()

    def read_settings(self, r, data, where):
        return read_gguf_settings(r, data, where)

    def build_base(self, hf_dir, kind, settings, out_dir):
        with atomic_path(out_dir, directory=True) as tmp:
            convert_to_gguf(hf_dir, settings.outtype, tmp / BASE_FILE, out_dir / BASE_FILE,
                            self.base_bytes(settings, checkpoint_parameters(hf_dir)))

    def quantize(self, variant: Variant, model: str, base_dir: Path, corpus_dir: Path, out_dir: Path) -> float:
        name = f"{model}-{variant.name}.gguf"
        with atomic_path(out_dir, directory=True) as tmp:
            # The thread count does not change the output: llama.cpp splits work by rows.
            return quantize_gguf(base_dir / BASE_FILE, variant.format_settings.outtype.upper(), variant.settings.type,
                                 tmp / name, out_dir / name, os.cpu_count() or 1)

    def base_bytes(self, settings, parameters):
        return int(parameters * file_type(settings.outtype.upper()).bits_per_weight / 8)

    def variant_bytes(self, variant, parameters):
        return int(parameters * file_type(variant.settings.type).bits_per_weight / 8)

    def size(self, artifact: Path, parameters: int) -> dict[str, Any]:
        # Tensor data over tensor elements, as llama.cpp reports it; the file adds vocabulary and metadata.
        path = gguf_file(artifact)
        return {"bits_per_weight": describe_gguf(path)["bits_per_weight"], "bytes": path.stat().st_size}

    def recognises(self, path: Path) -> bool:
        return path.suffix == ".gguf" if path.is_file() else any(path.glob("*.gguf"))

    def describe(self, path: Path) -> dict[str, Any]:
        return describe_gguf(gguf_file(path))

    def quantization(self, variant: Variant) -> dict[str, Any]:
        ftype = file_type(variant.settings.type)
        return {"base": variant.format_settings.outtype, "llama_ftype": ftype.ftype, "precision": ftype.precision,
                "type": variant.settings.type}

    def file_role(self, name: str) -> str | None:
        return "weights" if name.endswith(".gguf") else None

    def gpu_build(self) -> bool:
        from pipeline.formats.gguf.runtime import gpu_offload_supported

        return gpu_offload_supported()

    def open(self, artifact, kind, spec):
        from pipeline.formats.gguf.runtime import LlamaCppRuntime

        n_ctx = spec.window if kind == "decoder" else spec.max_sentence_tokens
        device = resolve_device(spec.device, "llama.cpp", self.gpu_build())
        return LlamaCppRuntime(gguf_file(artifact), kind, device, spec.threads, n_ctx)

    def requirements(self, record):
        return llama_cpp_requirements(record)
