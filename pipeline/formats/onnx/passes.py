"""The ONNX variants modelprep builds: one pass per variant, each owning its typed settings.

Each pass takes the fp32 export and returns the variant's model; `quantization` says what it did,
for the release record. Its settings are the variant's entry under params.yaml `onnx.variants`; a
pass registers itself by name (`@onnx_pass`), and the variant of that name runs it. The quantizers
are ONNX Runtime's own.
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
from typing import Any

from pipeline.formats.onnx.context import PassContext
from pipeline.settings import Reader, setting


class OnnxPass(ABC):
    name: str  # the variant it makes, as params.yaml `onnx.variants` names it
    precision: str  # what a registry filters on: float32, int8, int4
    Settings: type  # its typed settings, read from the variant's params.yaml entry

    def read_settings(self, r: Reader, data: Any, where: str) -> Any:
        return r.section(data if data is not None else {}, where, self.Settings)

    @abstractmethod
    def quantization(self, s: Any) -> dict[str, Any]:
        """The scheme and settings, as the release record states them."""

    @abstractmethod
    def run(self, model, s: Any, ctx: PassContext):
        """The variant's ModelProto."""


PASSES: dict[str, OnnxPass] = {}


def onnx_pass(cls: type[OnnxPass]) -> type[OnnxPass]:
    """Register a pass under its variant name."""
    PASSES[cls.name] = cls()
    return cls


def _block_size(r: Reader, where: str, block: int) -> None:
    if block < 16 or block & (block - 1):
        raise r.error(f"'{where}.block_size' must be a power of two, at least 16, got {block}")


@dataclass(frozen=True)
class NoSettings:
    """A pass with nothing to set."""


@onnx_pass
class Float32(OnnxPass):
    name, precision, Settings = "onnx-fp32", "float32", NoSettings

    def quantization(self, s):
        return {"method": "none", "weights": "float32"}

    def run(self, model, s, ctx):
        return model


@dataclass(frozen=True)
class Int8Settings:
    """ONNX Runtime dynamic INT8: weights int8, activations quantized per call."""

    per_channel: bool
    reduce_range: bool


@onnx_pass
class DynamicInt8(OnnxPass):
    name, precision, Settings = "onnx-int8", "int8", Int8Settings

    def quantization(self, s):
        return {"method": "dynamic", "weights": "int8", "activations": "uint8, quantized at run time",
                "per_channel": s.per_channel, "reduce_range": s.reduce_range,
                "quantizer": "onnxruntime.quantization.quantize_dynamic"}

    def run(self, model, s, ctx):
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        out = ctx.scratch / "int8.onnx"
        # External data: the scratch copy of a model past 2 GiB cannot be one protobuf file.
        quantize_dynamic(model, out, per_channel=s.per_channel, reduce_range=s.reduce_range,
                         weight_type=QuantType.QInt8, use_external_data_format=True)
        return onnx.load(out)


def _quiet_quantizer() -> None:
    # MatMulNBitsQuantizer logs every node at INFO; the stage reports the summary itself.
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Int4Settings:
    """Weight-only 4-bit blocks rounded to nearest: MatMulNBits, embeddings as GatherBlockQuantized."""

    block_size: int
    symmetric: bool
    accuracy_level: int = setting(low=0, high=4)  # MatMulNBits compute: 0 unset, 1 fp32 ... 4 int8
    quantize_embeddings: bool = setting()


@onnx_pass
class WeightOnlyInt4(OnnxPass):
    name, precision, Settings = "onnx-int4", "int4", Int4Settings

    def read_settings(self, r, data, where):
        s = super().read_settings(r, data, where)
        _block_size(r, where, s.block_size)
        return s

    def quantization(self, s):
        return {"method": "weight-only round-to-nearest", "weights": "int4", "block_size": s.block_size,
                "symmetric": s.symmetric, "accuracy_level": s.accuracy_level,
                "embeddings": "int4 (GatherBlockQuantized)" if s.quantize_embeddings else "float32",
                "quantizer": "onnxruntime MatMulNBitsQuantizer (DEFAULT)"}

    def run(self, model, s, ctx):
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )

        _quiet_quantizer()
        ops = ("MatMul", "Gather") if s.quantize_embeddings else ("MatMul",)
        config = DefaultWeightOnlyQuantConfig(block_size=s.block_size, is_symmetric=s.symmetric,
                                              accuracy_level=s.accuracy_level, op_types_to_quantize=ops,
                                              quant_axes=(("MatMul", 0), ("Gather", 1)))
        quantizer = MatMulNBitsQuantizer(model, algo_config=config)
        quantizer.process()
        return quantizer.model.model


@dataclass(frozen=True)
class GPTQSettings:
    """Weight-only 4-bit blocks chosen by GPTQ from activations of training-split windows."""

    block_size: int
    symmetric: bool
    accuracy_level: int = setting(low=0, high=4)
    calibration_windows: int = setting()
    calibration_window: int = setting()
    percdamp: float = setting()
    actorder: bool = setting()


@onnx_pass
class GPTQInt4(OnnxPass):
    name, precision, Settings = "onnx-int4-gptq", "int4", GPTQSettings

    def read_settings(self, r, data, where):
        s = super().read_settings(r, data, where)
        _block_size(r, where, s.block_size)
        return s

    def quantization(self, s):
        return {"method": "weight-only GPTQ", "weights": "int4", "block_size": s.block_size, "symmetric": s.symmetric,
                "accuracy_level": s.accuracy_level, "calibration_windows": s.calibration_windows,
                "calibration_window": s.calibration_window,
                "percdamp": s.percdamp, "actorder": s.actorder, "embeddings": "float32",
                "quantizer": "onnxruntime MatMulNBitsQuantizer (GPTQ)"}

    def run(self, model, s, ctx):
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            GPTQWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )

        from pipeline.formats.onnx.calibration import CorpusReader

        _quiet_quantizer()
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

