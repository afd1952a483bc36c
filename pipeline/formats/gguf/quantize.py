"""Unquantized GGUF -> quantized GGUF, with llama.cpp's own `llama-quantize` (built from the pinned
tree by `make llama-tools`), so a registry can rerun the exact command the record states.

Its command takes the importance matrix (`--imatrix`) and per-tensor types (`--tensor-type`), which
the library call cannot pass from Python. A result larger than `gguf.max_shard_mb` is split into
llama.cpp's shards (`llama-gguf-split`, NAME-00001-of-0000N.gguf), which llama.cpp loads from the
first one; Hugging Face refuses files over 50 GB.
"""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.formats.gguf.filetypes import file_type
from pipeline.progress import human_bytes, log, watch_growth
from pipeline.subprocess_tail import run_tool
from pipeline.toolchain import llama_tool

STAGE = "quantize"
QUANTIZE, SPLIT = "llama-quantize", "llama-gguf-split"


def quantize_arguments(imatrix: str | None, tensor_types: dict[str, str], base: str, out: str,
                       type_name: str) -> list[str]:
    """llama-quantize's arguments (the thread count aside: it does not change the bytes)."""
    options = ["--imatrix", imatrix] if imatrix else []
    for pattern, ggml_type in tensor_types.items():
        options += ["--tensor-type", f"{pattern}={ggml_type}"]
    return [*options, base, out, type_name]


def quantize_gguf(base: Path, base_type: str, type_name: str, imatrix: str | None, tensor_types: dict[str, str],
                  out_path: Path, final_path: Path, threads: int) -> float:
    """Write `out_path` (a temporary path of the stage's output `final_path`, which the log names) as
    `type_name`; return the seconds the quantizer took. `imatrix` is a path relative to the output's
    folder: llama-quantize records it as given (quantize.imatrix.file), so it names the package's file."""
    target = file_type(type_name)
    if not base.is_file():
        raise ModelprepError(base, "base GGUF missing; run the convert stage")
    arguments = quantize_arguments(imatrix, tensor_types, str(base.resolve()), str(out_path.resolve()), type_name)
    expected = base.stat().st_size * target.bits_per_weight / file_type(base_type).bits_per_weight
    start = time.monotonic()
    with watch_growth(STAGE, f"writing {type_name}", out_path, int(expected)):
        code, tail = run_tool([str(llama_tool(QUANTIZE)), *arguments, str(threads)], quiet=True, cwd=out_path.parent,
                              writes_into=final_path.parent)
    seconds = time.monotonic() - start
    if code != 0:
        why = next((line for line in reversed(tail) if "error" in line.lower() or "failed" in line), "")
        raise ModelprepError(base, f"llama-quantize failed (exit {code}) making {type_name}: "
                                   f"{why.strip() or (tail[-1] if tail else 'no output')}")
    size_in, size_out = base.stat().st_size, out_path.stat().st_size
    log(STAGE, f"{base.name} ({human_bytes(size_in)}) -> {type_name} {final_path} ({human_bytes(size_out)}) "
               f"in {seconds:.2f} s, {human_bytes(size_in / max(seconds, 1e-9))}/s")
    return seconds


def split_gguf(path: Path, max_shard_mb: int) -> list[Path]:
    """`path` as llama.cpp split shards of at most `max_shard_mb` decimal megabytes, if it is larger; the
    files that hold the model afterwards."""
    if path.stat().st_size <= max_shard_mb * 10 ** 6:
        return [path]
    prefix = path.with_suffix("")
    code, tail = run_tool([str(llama_tool(SPLIT)), "--split", "--split-max-size", f"{max_shard_mb}M", str(path),
                           str(prefix)], quiet=True,
                          writes_into=path.parent)
    shards = sorted(path.parent.glob(f"{prefix.name}-*-of-*.gguf"))
    if code != 0 or not shards:
        raise ModelprepError(path, f"llama-gguf-split failed (exit {code}): {tail[-1] if tail else 'no output'}")
    path.unlink()
    log(STAGE, f"split into {len(shards)} shards of at most {max_shard_mb} MB: {shards[0].name} ...")
    return shards
