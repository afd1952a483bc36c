"""The ONNX variants modelprep builds: one pass per variant, each owning its typed settings.

Each pass writes the variant's model (and weights file) from the fp32 base export; `quantization`
says what it did, for the release record. Its settings are the variant's entry under params.yaml
`onnx.variants`; a pass registers itself by name (`@onnx_pass`), and the variant of that name runs it.
The quantizers are ONNX Runtime's own.
- onnx-fp32: the export itself (its files linked, not copied), the baseline whose figures are export
  error alone;
- onnx-int8 and onnx-int4: weight-only blocks rounded to nearest (MatMulNBits, 8 or 4 bits; for int4
  the embedding table too, as GatherBlockQuantized), quantized one weight at a time (`blockwise.py`),
  so their memory is bounded by the largest weight, not the model;
- onnx-int4-gptq: the same 4-bit format with GPTQ choosing the values from activations of training
  text. ONNX Runtime's own GPTQ (ported from Intel Neural Compressor, shipped inside onnxruntime) is
  used rather than GPTQModel: it runs on the CPU, writes MatMulNBits directly, and needs no CUDA
  torch. It holds the whole model and runs it over the calibration text, so it is off by default.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from pipeline.fileio import link_or_copy
from pipeline.formats.onnx.context import PassContext
from pipeline.formats.onnx.files import DATA_FILE, MODEL_FILE, load_model, save_model
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
    def bits_per_weight(self, s: Any) -> float:
        """Bits the variant writes per weight, about (its free-disk check before the build)."""

    @abstractmethod
    def run(self, s: Any, ctx: PassContext) -> None:
        """Write the variant's model file (and weights file) into `ctx.out_dir`."""


PASSES: dict[str, OnnxPass] = {}


def onnx_pass(cls: type[OnnxPass]) -> type[OnnxPass]:
    """Register a pass under its variant name."""
    PASSES[cls.name] = cls()
    return cls


def _block_size(r: Reader, where: str, block: int) -> None:
    if block < 16 or block & (block - 1):
        raise r.error(f"'{where}.block_size' must be a power of two, at least 16, got {block}")


def _block_bits(bits: int, block: int, symmetric: bool) -> float:
    """Bits per weight of blocks with a float32 scale and, unless symmetric, a `bits`-wide zero point."""
    return bits + (32 + (0 if symmetric else bits)) / block


@dataclass(frozen=True)
class NoSettings:
    """A pass with nothing to set."""


@onnx_pass
class Float32(OnnxPass):
    name, precision, Settings = "onnx-fp32", "float32", NoSettings

    def quantization(self, s):
        return {"method": "none", "weights": "float32"}

    def bits_per_weight(self, s):
        return 0.0  # the base's files, linked

    def run(self, s, ctx):
        for name in (MODEL_FILE, DATA_FILE):
            if (ctx.base_dir / name).is_file():
                link_or_copy(ctx.base_dir / name, ctx.out_dir / name)


def _quiet_quantizer() -> None:
    # ONNX Runtime's weight-only quantizer logs every node at INFO; the stage reports progress itself.
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)


@dataclass(frozen=True)
class WeightOnlySettings:
    """Weight-only blocks rounded to nearest: MatMulNBits, embeddings as GatherBlockQuantized."""

    block_size: int
    symmetric: bool  # matrices; embedding tables are quantized symmetrically
    accuracy_level: int = setting(low=0, high=4)  # MatMulNBits compute: 0 unset, 1 fp32 ... 4 int8
    quantize_embeddings: bool = setting()


class WeightOnly(OnnxPass):
    """Weight-only blocks of `bits`, one weight at a time (`blockwise.py`)."""

    bits: int
    Settings = WeightOnlySettings

    def read_settings(self, r, data, where):
        s = super().read_settings(r, data, where)
        _block_size(r, where, s.block_size)
        return s

    def bits_per_weight(self, s):
        return _block_bits(self.bits, s.block_size, s.symmetric)

    def quantization(self, s):
        return {"method": "weight-only round-to-nearest", "weights": self.precision, "block_size": s.block_size,
                "symmetric": s.symmetric, "accuracy_level": s.accuracy_level,
                "embeddings": f"{self.precision} (GatherBlockQuantized)" if s.quantize_embeddings else "float32",
                "quantizer": "onnxruntime DefaultWeightOnlyQuantizer (MatMulNBits), one weight at a time"}

    def run(self, s, ctx):
        import onnx

        from pipeline.formats.onnx.blockwise import quantize_blockwise

        _quiet_quantizer()
        external = (ctx.base_dir / DATA_FILE).is_file()
        model = quantize_blockwise(ctx.base_dir, ctx.out_dir, self.bits, s.block_size, s.symmetric, s.accuracy_level,
                                   s.quantize_embeddings, external)
        onnx.save_model(model, ctx.out_dir / MODEL_FILE)


@onnx_pass
class WeightOnlyInt8(WeightOnly):
    name, precision, bits = "onnx-int8", "int8", 8


@onnx_pass
class WeightOnlyInt4(WeightOnly):
    name, precision, bits = "onnx-int4", "int4", 4


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

    def bits_per_weight(self, s):
        return _block_bits(4, s.block_size, s.symmetric)

    def quantization(self, s):
        return {"method": "weight-only GPTQ", "weights": "int4", "block_size": s.block_size, "symmetric": s.symmetric,
                "accuracy_level": s.accuracy_level, "calibration_windows": s.calibration_windows,
                "calibration_window": s.calibration_window,
                "percdamp": s.percdamp, "actorder": s.actorder, "embeddings": "float32",
                "quantizer": "onnxruntime MatMulNBitsQuantizer (GPTQ)"}

    def run(self, s, ctx):
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            GPTQWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )

        from pipeline.formats.onnx.calibration import CorpusReader

        _quiet_quantizer()
        model = load_model(ctx.base_dir)
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
        save_model(result, ctx.out_dir, ctx.external_min_bytes)

