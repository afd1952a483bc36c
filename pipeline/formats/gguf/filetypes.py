"""The llama.cpp file types modelprep builds, one row per type.

Names are the ones `llama-quantize` accepts; `ftype` is the llama_ftype value from llama.h of the
pinned llama.cpp commit, so the quantizer gets exactly what `llama-quantize NAME` would pass it.
"""

from __future__ import annotations

from dataclasses import dataclass

# convert_hf_to_gguf.py --outtype choices that are unquantized (the base every variant starts from).
CONVERT_OUTTYPES = ("f32", "f16", "bf16")


@dataclass(frozen=True)
class FileType:
    name: str
    ftype: int  # llama_ftype in llama.h
    precision: str  # what a registry filters on: float, int8, int4 ...
    bits_per_weight: float  # llama-quantize's own figure for the type, used to estimate disk before a build
    needs_imatrix: bool = False  # llama.cpp refuses to make it without an importance matrix


_TABLE = (
    FileType("F32", 0, "float32", 32),
    FileType("F16", 1, "float16", 16),
    FileType("BF16", 32, "bfloat16", 16),
    FileType("Q8_0", 7, "int8", 8.5),
    FileType("Q6_K", 18, "int6", 6.56),
    FileType("Q5_K_M", 17, "int5", 5.69),
    FileType("Q5_K_S", 16, "int5", 5.54),
    FileType("Q5_0", 8, "int5", 5.5),
    FileType("Q5_1", 9, "int5", 6.0),
    FileType("Q4_K_M", 15, "int4", 4.89),
    FileType("Q4_K_S", 14, "int4", 4.58),
    FileType("Q4_0", 2, "int4", 4.5),
    FileType("Q4_1", 3, "int4", 5.0),
    FileType("IQ4_NL", 25, "int4", 4.5),
    FileType("IQ4_XS", 30, "int4", 4.25),
    FileType("Q3_K_L", 13, "int3", 4.03),
    FileType("Q3_K_M", 12, "int3", 3.91),
    FileType("Q3_K_S", 11, "int3", 3.41),
    FileType("IQ3_M", 27, "int3", 3.66),
    FileType("IQ3_S", 26, "int3", 3.44),
    FileType("IQ3_XS", 22, "int3", 3.3, needs_imatrix=True),
    FileType("IQ3_XXS", 23, "int3", 3.06, needs_imatrix=True),
    FileType("Q2_K", 10, "int2", 2.63),
    FileType("Q2_K_S", 21, "int2", 2.96, needs_imatrix=True),
    FileType("IQ2_M", 29, "int2", 2.7, needs_imatrix=True),
    FileType("IQ2_S", 28, "int2", 2.5, needs_imatrix=True),
    FileType("IQ2_XS", 20, "int2", 2.31, needs_imatrix=True),
    FileType("IQ2_XXS", 19, "int2", 2.06, needs_imatrix=True),
    FileType("IQ1_M", 31, "int1", 1.75, needs_imatrix=True),
    FileType("IQ1_S", 24, "int1", 1.56, needs_imatrix=True),
)
FILE_TYPES = {t.name: t for t in _TABLE}


def file_type(name: str) -> FileType:
    try:
        return FILE_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown llama.cpp quantization type {name!r} (supported: {', '.join(FILE_TYPES)})") from None
