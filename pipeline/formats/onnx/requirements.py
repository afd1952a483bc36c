"""What ONNX Runtime needs of a machine to run an ONNX variant (the manifest's `runtimes` block).

- Version: opset 21 is read from 1.18; MatMulNBits (int4 weights) is a com.microsoft operator from
  1.17 and GatherBlockQuantized (int4 embeddings) from 1.20 (ORT operator docs). Opsets below 21
  read from versions older than anything still supported; only 21 is in the table.
- CUDA: its packages since 1.19 are built against CUDA 12 and cuDNN 9, which support compute
  capability 5.0 upward (cuDNN 9 support matrix).
- CPU: its int8 u8s8 kernels may saturate on AVX2 without VNNI unless the weights were quantized
  with reduce_range (onnxruntime quantization docs).
- ONNX Runtime GenAI runs decoders from genai_config.json; only the validated version is stated.
"""

from __future__ import annotations

from typing import Any

from pipeline.hardware.gpus import version_key
from pipeline.hardware.isa import VNNI

ORT_CUDA = [{"toolkit": "12", "min_cuda": "12.0", "min_compute_capability": "5.0", "needs": "cuDNN 9"}]
# (operator or opset, oldest ONNX Runtime that runs it)
ORT_FEATURES = {"opset 21": "1.18.0", "MatMulNBits": "1.17.0", "GatherBlockQuantized": "1.20.0"}


def onnxruntime_requirements(record: dict[str, Any]) -> list[dict[str, Any]]:
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
