"""The runtimes that run a variant, and what each needs of a machine.

Each entry names the build the variant was validated with, the oldest version it is stated to
run on and why (`basis`), the CUDA builds with the oldest CUDA and compute capability each
supports, and the CPU instruction sets that matter. Sources, per fact:
- llama.cpp CUDA: ggml/src/ggml-cuda/CMakeLists.txt of the pinned commit compiles PTX for compute
  capability 5.0 upward with CUDA 12 toolkits and 7.5 upward with CUDA 13 (it drops 5.0-7.0).
- llama.cpp CPU: `make setup` builds the portable x86-64-v3 code path (AVX2, FMA, F16C); that path
  needs those instructions. Q8_0 dot products run fastest with AVX-512 VNNI or AVX-VNNI.
- ONNX Runtime: opset 21 is read from 1.18; MatMulNBits (int4 weights) is a com.microsoft
  operator from 1.17 and GatherBlockQuantized (int4 embeddings) from 1.20 (ORT operator docs).
  Its CUDA packages since 1.19 are built against CUDA 12 and cuDNN 9, which support compute
  capability 5.0 upward (cuDNN 9 support matrix). Its int8 u8s8 kernels may saturate on AVX2
  without VNNI unless the weights were quantized with reduce_range (onnxruntime quantization docs).
- ONNX Runtime GenAI runs decoders from genai_config.json; only the validated version is stated.
"""

from __future__ import annotations

from typing import Any

from pipeline.hardware.gpus import version_key

X86_64_V3 = ["AVX2", "FMA", "F16C"]
VNNI = ["AVX512_VNNI", "AVX_VNNI"]
LLAMA_CPP_CUDA = [{"toolkit": "12", "min_cuda": "12.0", "min_compute_capability": "5.0"},
                  {"toolkit": "13", "min_cuda": "13.0", "min_compute_capability": "7.5"}]
ORT_CUDA = [{"toolkit": "12", "min_cuda": "12.0", "min_compute_capability": "5.0", "needs": "cuDNN 9"}]
# (operator or opset, oldest ONNX Runtime that runs it)
ORT_FEATURES = {"opset 21": "1.18.0", "MatMulNBits": "1.17.0", "GatherBlockQuantized": "1.20.0"}
# Opsets below 21 read from versions older than anything still supported; only 21 is in the table.


def _llama_cpp(record: dict[str, Any]) -> list[dict[str, Any]]:
    tools, gguf = record["tools"], record["gguf"]
    int8 = record["quantization"]["precision"] == "int8"
    reads = f"GGUF v{gguf['gguf_version']} with {', '.join(gguf['tensor_types'])} tensors"
    validated = f"{tools['llama.cpp']} (llama-cpp-python {tools['llama-cpp-python']})"
    return [{"runtime": "llama.cpp", "validated": validated,
             "min_version": tools["llama.cpp"],
             "basis": f"validated build (older builds were not tested); the file needs a reader of {reads}",
             "gpu": LLAMA_CPP_CUDA,
             "cpu": {"required": X86_64_V3, "recommended": VNNI if int8 else []}}]


def _onnxruntime(record: dict[str, Any]) -> list[dict[str, Any]]:
    onnx, tools = record["onnx"], record["tools"]
    validated = tools["onnxruntime"].split()[0]  # "1.31.1 (onnxruntime-gpu)" names the package too
    features = [f"opset {onnx['opset']}"] if onnx["opset"] >= 21 else []
    features += [op for op in ("MatMulNBits", "GatherBlockQuantized") if op in onnx["operators"]]
    if all(f in ORT_FEATURES for f in features) and features:
        minimum = max((ORT_FEATURES[f] for f in features), key=version_key)
    else:
        minimum = validated  # a newer opset than the table knows, or nothing to go by
    int8 = record["quantization"]["precision"] == "int8"
    saturates = int8 and not record["quantization"].get("reduce_range", False)
    runtimes = [{"runtime": "onnxruntime", "validated": tools["onnxruntime"], "min_version": minimum,
                 "basis": f"operators: {', '.join(features)}" if minimum != validated else "validated build",
                 "gpu": ORT_CUDA,
                 "cpu": {"required": [], "recommended": VNNI if saturates else []}}]
    if onnx["genai_config"]:
        runtimes.append({"runtime": "onnxruntime-genai", "validated": tools["onnxruntime-genai"],
                         "min_version": tools["onnxruntime-genai"], "basis": "validated build", "gpu": ORT_CUDA,
                         "cpu": runtimes[0]["cpu"]})
    return runtimes


REQUIREMENTS = {"gguf": _llama_cpp, "onnx": _onnxruntime}


def runtime_requirements(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The runtimes of a release record's format, with what each needs."""
    return REQUIREMENTS[record["format"]](record)
