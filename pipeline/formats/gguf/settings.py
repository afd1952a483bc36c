"""params.yaml `gguf`: the converter's output type, and the llama.cpp types to build.

Each entry of `gguf.variants` is a variant name with its settings; `type` (the llama.cpp type it is
quantized to, as llama-quantize names it) defaults to the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.formats.gguf.filetypes import CONVERT_OUTTYPES, file_type
from pipeline.settings import Reader


@dataclass(frozen=True)
class GGUFVariantSettings:
    type: str  # llama.cpp type name (Q8_0, Q4_K_M...)


@dataclass(frozen=True)
class GGUFSettings:
    outtype: str  # convert_hf_to_gguf.py --outtype of the base every variant is quantized from
    variants: dict[str, GGUFVariantSettings]


def read_gguf_settings(r: Reader, data: Any, where: str) -> GGUFSettings:
    data = r.mapping(data, where)
    r.no_extra(data, {"outtype", "variants"}, where)
    variants = {}
    for name, entry in r.mapping(r.get(data, "variants", dict, where), f"{where}.variants").items():
        at = f"{where}.variants.{name}"
        entry = r.mapping(entry if entry is not None else {}, at)
        r.no_extra(entry, {"type"}, at)
        type_name = r.get(entry, "type", str, at, name)
        try:
            file_type(type_name)
        except KeyError as err:
            raise r.error(f"'{at}': {err.args[0]}") from None
        variants[name] = GGUFVariantSettings(type_name)
    return GGUFSettings(outtype=r.choice(data, "outtype", where, CONVERT_OUTTYPES), variants=variants)
