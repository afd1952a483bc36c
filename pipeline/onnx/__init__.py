"""ONNX variants: export with optimum-onnx, quantize with ONNX Runtime's quantizers, run in ONNX Runtime."""
