"""Unquantized GGUF -> quantized GGUF, with llama.cpp's quantizer (what `llama-quantize` calls)."""

from __future__ import annotations

import ctypes
import time
from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.formats.gguf.filetypes import file_type
from pipeline.progress import human_bytes, log, watch_growth

STAGE = "quantize"


def quantize_gguf(base: Path, base_type: str, type_name: str, out_path: Path, final_path: Path, threads: int) -> float:
    """Write `out_path` (a temporary path of the stage's output `final_path`, which the log names) as
    `type_name`; return the seconds the quantizer took."""
    import llama_cpp

    target = file_type(type_name)
    if not base.is_file():
        raise ModelprepError(base, "base GGUF missing; run the convert stage")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = target.ftype
    params.nthread = threads
    expected = base.stat().st_size * target.bits_per_weight / file_type(base_type).bits_per_weight
    start = time.monotonic()
    with watch_growth(STAGE, f"writing {type_name}", out_path, int(expected)):
        code = llama_cpp.llama_model_quantize(str(base).encode(), str(out_path).encode(), ctypes.byref(params))
    seconds = time.monotonic() - start
    if code != 0:
        raise ModelprepError(base, f"llama.cpp's quantizer failed with code {code} making {type_name}")
    size_in, size_out = base.stat().st_size, out_path.stat().st_size
    log(STAGE, f"{base.name} ({human_bytes(size_in)}) -> {type_name} {final_path} ({human_bytes(size_out)}) "
               f"in {seconds:.2f} s, {human_bytes(size_in / max(seconds, 1e-9))}/s")
    return seconds
