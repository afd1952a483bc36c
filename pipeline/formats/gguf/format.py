"""The GGUF format: a variant is a folder holding one GGUF file, run by llama.cpp."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipeline.device import resolve_device
from pipeline.diskspace import checkpoint_parameters
from pipeline.errors import ModelprepError
from pipeline.fileio import atomic_path, link_or_copy
from pipeline.formats.base import Format, QuantizeInputs, Variant
from pipeline.formats.gguf.convert import convert_to_gguf
from pipeline.formats.gguf.files import SHARD, gguf_file, gguf_files
from pipeline.formats.gguf.filetypes import file_type
from pipeline.formats.gguf.imatrix import IMATRIX_FILE, imatrix_of
from pipeline.formats.gguf.inspect import describe_gguf
from pipeline.formats.gguf.memory import LlamaCppMemory
from pipeline.formats.gguf.quantize import quantize_arguments, quantize_gguf, split_gguf
from pipeline.formats.gguf.requirements import llama_cpp_requirements
from pipeline.formats.gguf.settings import read_gguf_settings

BASE_FILE = "base.gguf"
IMATRIX_IN_PACKAGE = f"imatrix/{IMATRIX_FILE}"


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

    def quantize(self, variant: Variant, model: str, inputs: QuantizeInputs, out_dir: Path) -> float:
        chosen, name = variant.settings, f"{model}-{variant.name}.gguf"
        imatrix = self._imatrix(variant, inputs.imatrix_dir)
        with atomic_path(out_dir, directory=True) as tmp:
            if imatrix:
                link_or_copy(imatrix, tmp / IMATRIX_IN_PACKAGE)  # in the package: a registry can reproduce the quant
            # The thread count does not change the output: llama.cpp splits work by rows.
            seconds = quantize_gguf(inputs.base_dir / BASE_FILE, variant.format_settings.outtype.upper(), chosen.type,
                                    IMATRIX_IN_PACKAGE if imatrix else None, chosen.tensor_types, tmp / name,
                                    out_dir / name, os.cpu_count() or 1)
            split_gguf(tmp / name, variant.format_settings.max_shard_mb)
        return seconds

    @staticmethod
    def _imatrix(variant: Variant, imatrix_dir: Path) -> Path | None:
        if not variant.settings.imatrix:
            return None
        imatrix, record = imatrix_of(imatrix_dir)
        if imatrix is None and file_type(variant.settings.type).needs_imatrix:
            raise ModelprepError(imatrix_dir / "imatrix.json", f"{variant.name} ({variant.settings.type}) needs an "
                                                                f"importance matrix; there is none: {record['reason']}")
        return imatrix

    def base_bytes(self, settings, parameters):
        return int(parameters * file_type(settings.outtype.upper()).bits_per_weight / 8)

    def variant_bytes(self, variant, parameters):
        return int(parameters * file_type(variant.settings.type).bits_per_weight / 8)

    def size(self, artifact: Path, parameters: int) -> dict[str, Any]:
        # Tensor data over tensor elements, as llama.cpp reports it; the files add vocabulary and metadata.
        files = gguf_files(artifact)
        return {"bits_per_weight": describe_gguf(files)["bits_per_weight"],
                "bytes": sum(p.stat().st_size for p in files)}

    def recognises(self, path: Path) -> bool:
        return path.suffix == ".gguf" if path.is_file() else any(path.glob("*.gguf"))

    def describe(self, path: Path) -> dict[str, Any]:
        return describe_gguf(gguf_files(path))

    def quantization(self, variant: Variant, artifact: Path) -> dict[str, Any]:
        """The type and, as llama-quantize was run (the thread count aside), its exact command: a registry
        reruns it on the base (`convert_hf_to_gguf.py --outtype <base>`) with the package's imatrix."""
        chosen, ftype = variant.settings, file_type(variant.settings.type)
        files = gguf_files(artifact)
        used = (artifact / IMATRIX_IN_PACKAGE).is_file()
        name = SHARD.sub(".gguf", files[0].name)
        command = " ".join(["llama-quantize", *quantize_arguments(IMATRIX_IN_PACKAGE if used else None,
                                                                  chosen.tensor_types, BASE_FILE, name, chosen.type)])
        block = {"base": variant.format_settings.outtype, "command": command, "imatrix": used,
                 "llama_ftype": ftype.ftype, "precision": ftype.precision, "tensor_types": chosen.tensor_types,
                 "type": chosen.type}
        if chosen.imatrix and not used:
            block["imatrix_note"] = "requested, but llama-imatrix runs causal language models only"
        if len(files) > 1:
            block["split"] = (f"llama-gguf-split --split --split-max-size {variant.format_settings.max_shard_mb}M "
                              f"{name} {name.removesuffix('.gguf')}")
        return block

    def file_role(self, name: str) -> str | None:
        if name == IMATRIX_IN_PACKAGE:
            return "imatrix"
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
