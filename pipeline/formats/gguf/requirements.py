"""What llama.cpp needs of a machine to run a GGUF variant (the manifest's `runtimes` block).

- CUDA: ggml/src/ggml-cuda/CMakeLists.txt of the pinned commit compiles PTX for compute capability
  5.0 upward with CUDA 12 toolkits and 7.5 upward with CUDA 13 (it drops 5.0-7.0).
- CPU: `make setup` builds the portable x86-64-v3 code path (AVX2, FMA, F16C); that path needs those
  instructions. Q8_0 dot products run fastest with AVX-512 VNNI or AVX-VNNI.
- Version: only the validated commit is stated; older builds were not tested.
"""

from __future__ import annotations

from typing import Any

from pipeline.hardware.isa import VNNI, X86_64_V3

LLAMA_CPP_CUDA = [{"toolkit": "12", "min_cuda": "12.0", "min_compute_capability": "5.0"},
                  {"toolkit": "13", "min_cuda": "13.0", "min_compute_capability": "7.5"}]


def llama_cpp_requirements(record: dict[str, Any]) -> list[dict[str, Any]]:
    tools, gguf = record["tools"], record["gguf"]
    int8 = record["quantization"]["precision"] == "int8"
    reads = f"GGUF v{gguf['gguf_version']} with {', '.join(gguf['tensor_types'])} tensors"
    validated = f"{tools['llama.cpp']} (llama-cpp-python {tools['llama-cpp-python']})"
    return [{"runtime": "llama.cpp", "validated": validated,
             "min_version": tools["llama.cpp"],
             "basis": f"validated build (older builds were not tested); the file needs a reader of {reads}",
             "gpu": LLAMA_CPP_CUDA,
             "cpu": {"required": X86_64_V3, "recommended": VNNI if int8 else []}}]
