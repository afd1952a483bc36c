"""params.yaml `gguf`: the converter's output type, the importance matrix, the largest shard, and the
llama.cpp types to build.

Each entry of `gguf.variants` is a variant name with its settings: `type` (the llama.cpp type it is
quantized to, as llama-quantize names it; defaults to the name), `imatrix` (quantize with the
model's importance matrix) and `tensor_types` (llama-quantize's --tensor-type overrides: a regular
expression over tensor names -> a ggml type).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.formats.gguf.filetypes import CONVERT_OUTTYPES, file_type
from pipeline.layout import NAME
from pipeline.settings import Reader, setting


@dataclass(frozen=True)
class GGUFVariantSettings:
    type: str  # llama.cpp type name (Q8_0, Q4_K_M...)
    imatrix: bool = False
    tensor_types: dict[str, str] = field(default_factory=dict)  # tensor-name pattern -> ggml type (q6_k...)


@dataclass(frozen=True)
class ImatrixSettings:
    """llama-imatrix over the training split: `chunks` windows of `context` tokens."""

    chunks: int = setting(low=1)
    context: int = setting(low=8)


@dataclass(frozen=True)
class GGUFSettings:
    outtype: str  # convert_hf_to_gguf.py --outtype of the base every variant is quantized from
    imatrix: ImatrixSettings
    max_shard_mb: int  # a variant larger than this (decimal megabytes) is written as llama.cpp split shards
    variants: dict[str, GGUFVariantSettings]


def _ggml_type(r: Reader, value: Any, where: str) -> str:
    from gguf import GGMLQuantizationType

    if not isinstance(value, str) or value.upper() not in GGMLQuantizationType.__members__:
        raise r.error(f"'{where}' is {value!r}, not a ggml tensor type (e.g. q6_k, q8_0, f16)")
    return value.lower()


def _variant(r: Reader, name: str, entry: Any, at: str) -> GGUFVariantSettings:
    if not NAME.fullmatch(str(name)):
        raise r.error(f"variant name {name!r} may hold only letters, digits, '-' and '_'")
    entry = r.mapping(entry if entry is not None else {}, at)
    r.no_extra(entry, {"type", "imatrix", "tensor_types"}, at)
    type_name = r.get(entry, "type", str, at, name)
    try:
        chosen = file_type(type_name)
    except KeyError as err:
        raise r.error(f"'{at}': {err.args[0]}") from None
    imatrix = r.get(entry, "imatrix", bool, at, False)
    if chosen.needs_imatrix and not imatrix:
        raise r.error(f"'{at}': llama.cpp makes {type_name} only with an importance matrix; set 'imatrix: true'")
    overrides = r.mapping(r.get(entry, "tensor_types", dict, at, {}), f"{at}.tensor_types")
    tensor_types = {str(pattern): _ggml_type(r, value, f"{at}.tensor_types.{pattern}")
                    for pattern, value in overrides.items()}
    return GGUFVariantSettings(type_name, imatrix, tensor_types)


def read_gguf_settings(r: Reader, data: Any, where: str) -> GGUFSettings:
    data = r.mapping(data, where)
    r.no_extra(data, {"outtype", "imatrix", "max_shard_mb", "variants"}, where)
    variants = {name: _variant(r, name, entry, f"{where}.variants.{name}")
                for name, entry in r.mapping(r.get(data, "variants", dict, where), f"{where}.variants").items()}
    return GGUFSettings(outtype=r.choice(data, "outtype", where, CONVERT_OUTTYPES),
                        imatrix=r.section(r.get(data, "imatrix", dict, where), f"{where}.imatrix", ImatrixSettings),
                        max_shard_mb=r.positive(data, "max_shard_mb", where), variants=variants)
