"""llama.cpp's own memory reservation for a GGUF model at a serving workload: the KV cache, compute and
output buffers it reserves when it creates that context, as `llama-fit-params` and `--fit` measure it.

The model is loaded with `no_alloc` ("only load metadata and simulate memory allocations"; it needs
load_mode NONE, as mmap with no_alloc aborts), so the weights are never read and a 70B model costs
its metadata. Each context is created with the workload's n_ctx, sequences and micro-batch and
llama.cpp's other defaults (flash attention auto, f16 cache), and the sizes are read from the lines
llama.cpp logs as it reserves them (the sum over backends and, for sliding-window models, over both
caches). It runs in a child process: llama.cpp aborts the whole process on some requests.
`allocate=True` really allocates instead (the tests compare the two).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.formats.gguf.binding import load_llama_cpp

MIB = 2 ** 20
# sched_reserve:        CPU compute buffer size =     2.25 MiB
# llama_kv_cache: size =    0.25 MiB (   256 cells,   4 layers,  1/1 seqs), K (f16): ...
# llama_context:        CPU  output buffer size =     0.02 MiB
LINES = {
    "kv_bytes": re.compile(r"llama_kv_cache: size = +([\d.]+) MiB"),
    "compute_bytes": re.compile(r"\S+ compute buffer size = +([\d.]+) MiB"),
    "output_bytes": re.compile(r"\S+ +output buffer size = +([\d.]+) MiB"),
}


@dataclass(frozen=True)
class ContextRequest:
    n_ctx: int  # every sequence's tokens together
    n_seq: int
    n_ubatch: int
    n_batch: int
    embeddings: bool  # encoders: pooled embeddings, no KV cache


@dataclass(frozen=True)
class Reservation:
    n_ctx: int  # as llama.cpp padded it
    kv_bytes: int
    compute_bytes: int
    output_bytes: int  # at creation: one row per sequence; it grows to the rows a call returns


def reserve(gguf: Path, requests: list[ContextRequest], allocate: bool = False) -> list[Reservation]:
    """What llama.cpp reserves for each request on this build's backend (the CPU, or the GPU with
    every layer offloaded on a CUDA build)."""
    result = subprocess.run([sys.executable, "-m", __name__, str(gguf), json.dumps([asdict(r) for r in requests]),
                             "allocate" if allocate else "simulate"], capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        why = lines[-1] if lines else "no output"
        raise ModelprepError(gguf, f"llama.cpp could not reserve a context for it: {why}")
    return [Reservation(**entry) for entry in json.loads(result.stdout)]


def _child(gguf: str, requests: list[dict], allocate: bool) -> list[dict]:
    llama_cpp = load_llama_cpp()

    logged: list[str] = []
    callback = llama_cpp.llama_log_callback(lambda level, text, data: logged.append(text.decode("utf-8", "replace")))
    llama_cpp.llama_log_set(callback, None)
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.no_alloc, params.load_mode = not allocate, llama_cpp.LLAMA_LOAD_MODE_NONE
    params.n_gpu_layers = 999 if llama_cpp.llama_supports_gpu_offload() else 0
    model = llama_cpp.llama_model_load_from_file(gguf.encode(), params)
    if not model:
        raise SystemExit(f"cannot load {gguf}: {''.join(logged[-2:]).strip()}")
    found = []
    for request in map(lambda r: ContextRequest(**r), requests):
        settings = llama_cpp.llama_context_default_params()
        settings.n_ctx, settings.n_seq_max = request.n_ctx, request.n_seq
        settings.n_ubatch, settings.n_batch, settings.embeddings = request.n_ubatch, request.n_batch, request.embeddings
        settings.n_threads = settings.n_threads_batch = 1
        del logged[:]
        ctx = llama_cpp.llama_init_from_model(model, settings)
        if not ctx:
            raise SystemExit(f"cannot create a context of {request.n_ctx} tokens: {''.join(logged[-2:]).strip()}")
        text = "".join(logged)
        sizes = {key: round(sum(float(v) for v in pattern.findall(text)) * MIB) for key, pattern in LINES.items()}
        found.append(asdict(Reservation(n_ctx=llama_cpp.llama_n_ctx(ctx), **sizes)))
        llama_cpp.llama_free(ctx)
    llama_cpp.llama_model_free(model)
    return found


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "allocate")))
