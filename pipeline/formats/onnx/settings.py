"""params.yaml `onnx`: the export's opset and external-data threshold, and the ONNX variants to build.

Each entry of `onnx.variants` names a pass (`passes.py`) and holds that pass's settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.formats.onnx.passes import PASSES, OnnxPass
from pipeline.settings import Reader


@dataclass(frozen=True)
class ONNXVariantSettings:
    method: OnnxPass
    settings: Any  # the pass's own typed settings


@dataclass(frozen=True)
class ONNXSettings:
    opset: int
    external_data_min_mib: int  # weights this large or larger go to model.onnx.data beside model.onnx
    variants: dict[str, ONNXVariantSettings]

    @property
    def external_data_min_bytes(self) -> int:
        return self.external_data_min_mib * 2 ** 20


def read_onnx_settings(r: Reader, data: Any, where: str) -> ONNXSettings:
    data = r.mapping(data, where)
    r.no_extra(data, {"opset", "external_data_min_mib", "variants"}, where)
    variants = {}
    for name, entry in r.mapping(r.get(data, "variants", dict, where), f"{where}.variants").items():
        if name not in PASSES:
            raise r.error(f"'{where}.variants': unknown variant {name!r} (supported: {', '.join(PASSES)})")
        variants[name] = ONNXVariantSettings(PASSES[name], PASSES[name].read_settings(r, entry,
                                                                                       f"{where}.variants.{name}"))
    return ONNXSettings(opset=r.positive(data, "opset", where),
                        external_data_min_mib=r.positive(data, "external_data_min_mib", where), variants=variants)
