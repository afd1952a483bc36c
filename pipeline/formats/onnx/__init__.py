"""ONNX: a directory run by ONNX Runtime, exported with optimum-onnx and quantized with ONNX Runtime's
own quantizers."""

from pipeline.formats import register
from pipeline.formats.onnx.format import ONNX

register(ONNX())
