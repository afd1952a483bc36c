"""The ONNX variants modelprep builds, one pass per variant in a table.

Each pass takes the fp32 export and returns the variant's model; `quantization` says what it did,
for the release record. Settings come from params.yaml `onnx`; the quantizers are ONNX Runtime's own.
- onnx-fp32: the export itself, the baseline whose figures are export error alone;
- onnx-int8: dynamic quantization: int8 weights (per channel by param), activations quantized at run time;
- onnx-int4: weight-only 4-bit blocks rounded to nearest (MatMulNBits), embeddings as GatherBlockQuantized;
- onnx-int4-gptq: the same 4-bit format with GPTQ choosing the values from activations of training text.
  ONNX Runtime's own GPTQ (ported from Intel Neural Compressor, shipped inside onnxruntime) is used
  rather than GPTQModel: it runs on the CPU, writes MatMulNBits directly, and needs no CUDA torch.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.params import ONNXSpec


@dataclass(frozen=True)
class PassContext:
    """What a pass may need besides the model: calibration text and where to scribble."""

    base_dir: Path  # the fp32 export, with its tokenizer
    kind: str  # decoder or encoder
    corpus_dir: Path
    scratch: Path


class OnnxVariant(ABC):
    name: str
    precision: str  # what a registry filters on: float32, int8, int4

    @abstractmethod
    def quantization(self, spec: ONNXSpec) -> dict[str, Any]:
        """The scheme and settings, as the release record states them."""

    @abstractmethod
    def run(self, model, spec: ONNXSpec, ctx: PassContext):
        """The variant's ModelProto."""


class Float32(OnnxVariant):
    name, precision = "onnx-fp32", "float32"

    def quantization(self, spec):
        return {"method": "none", "weights": "float32"}

    def run(self, model, spec, ctx):
        return model


class DynamicInt8(OnnxVariant):
    name, precision = "onnx-int8", "int8"

    def quantization(self, spec):
        return {"method": "dynamic", "weights": "int8", "activations": "uint8, quantized at run time",
                "per_channel": spec.int8.per_channel, "reduce_range": spec.int8.reduce_range,
                "quantizer": "onnxruntime.quantization.quantize_dynamic"}

    def run(self, model, spec, ctx):
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        out = ctx.scratch / "int8.onnx"
        # External data: the scratch copy of a model past 2 GiB cannot be one protobuf file.
        quantize_dynamic(model, out, per_channel=spec.int8.per_channel, reduce_range=spec.int8.reduce_range,
                         weight_type=QuantType.QInt8, use_external_data_format=True)
        return onnx.load(out)


def _quiet_quantizer() -> None:
    # MatMulNBitsQuantizer logs every node at INFO; the stage reports the summary itself.
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)


class WeightOnlyInt4(OnnxVariant):
    name, precision = "onnx-int4", "int4"

    def quantization(self, spec):
        s = spec.int4
        return {"method": "weight-only round-to-nearest", "weights": "int4", "block_size": s.block_size,
                "symmetric": s.symmetric, "accuracy_level": s.accuracy_level,
                "embeddings": "int4 (GatherBlockQuantized)" if s.quantize_embeddings else "float32",
                "quantizer": "onnxruntime MatMulNBitsQuantizer (DEFAULT)"}

    def run(self, model, spec, ctx):
        from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

        _quiet_quantizer()
        s = spec.int4
        ops = ("MatMul", "Gather") if s.quantize_embeddings else ("MatMul",)
        config = DefaultWeightOnlyQuantConfig(block_size=s.block_size, is_symmetric=s.symmetric,
                                              accuracy_level=s.accuracy_level, op_types_to_quantize=ops,
                                              quant_axes=(("MatMul", 0), ("Gather", 1)))
        quantizer = MatMulNBitsQuantizer(model, algo_config=config)
        quantizer.process()
        return quantizer.model.model


class GPTQInt4(OnnxVariant):
    name, precision = "onnx-int4-gptq", "int4"

    def quantization(self, spec):
        s = spec.int4_gptq
        return {"method": "weight-only GPTQ", "weights": "int4", "block_size": s.block_size, "symmetric": s.symmetric,
                "accuracy_level": s.accuracy_level, "calibration_windows": s.calibration_windows,
                "calibration_window": s.calibration_window,
                "percdamp": s.percdamp, "actorder": s.actorder, "embeddings": "float32",
                "quantizer": "onnxruntime MatMulNBitsQuantizer (GPTQ)"}

    def run(self, model, spec, ctx):
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import GPTQWeightOnlyQuantConfig, MatMulNBitsQuantizer

        from pipeline.onnx.calibration import CorpusReader

        _quiet_quantizer()
        s = spec.int4_gptq
        reader = CorpusReader(model, ctx, s.calibration_windows, s.calibration_window)
        config = GPTQWeightOnlyQuantConfig(calibration_data_reader=reader, percdamp=s.percdamp, actorder=s.actorder,
                                           op_types_to_quantize=("MatMul",))
        quantizer = MatMulNBitsQuantizer(model, block_size=s.block_size, is_symmetric=s.symmetric,
                                         accuracy_level=s.accuracy_level, algo_config=config)
        quantizer.process()
        result = quantizer.model.model
        # ORT 1.31's GPTQ path writes MatMulNBits without importing its domain (the default path
        # does), which onnx.checker rightly rejects.
        if all(o.domain != "com.microsoft" for o in result.opset_import):
            result.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
        return result


ONNX_VARIANTS: dict[str, OnnxVariant] = {v.name: v for v in (Float32(), DynamicInt8(), WeightOnlyInt4(), GPTQInt4())}
