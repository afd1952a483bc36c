"""Memory a variant needs to serve one profile, estimated from its architecture and weight bytes
the way each runtime allocates it; the terms follow gguf-parser and Ollama's estimators.

llama.cpp (GGUF), as its context reports its buffers:
- weights: the tensor bytes, mapped from the file as stored;
- KV cache: layers x cells x KV heads x head size x 2 (K and V) x 2 bytes (f16). Cells are the
  context of every parallel sequence, padded to 256; a sliding window caps them. Encoders keep none;
- output buffer: 4 bytes x outputs x vocabulary (decoders; one output per sequence when serving),
  counted twice because the caller copies the logits out (llama-cpp-python keeps every row it is
  given), or x (vocabulary + hidden) per token (encoders, up to 256);
- compute buffer: the graph reservation for one micro-batch of `ubatch` tokens, dominated without
  flash attention by the attention scores (heads x ubatch x span) and the mask (ubatch x span),
  plus the widest activations (2 x FFN + 3 x hidden per token), all f32;
- overhead: runtime structures outside those buffers (vocabulary tables, graph metadata, threads).

ONNX Runtime (CPU and CUDA execution providers):
- weights: the model's bytes, plus the copies its GEMM kernels prepack (a fifth more on the examples);
- KV cache: the exported past key/values in f32 for the tokens held, twice (past in, present out);
- compute: its arena for one run's activations: the whole prompt in one call (no micro-batches),
  attention scores and probabilities (2 x heads x tokens x span) or FFN (2 x FFN per token), and
  the logits of every prompt position; the arena grows by doubling, so twice the live set;
- overhead: session, kernel registry and graph.

VRAM is the same terms with every layer offloaded, plus the CUDA context each process holds on the
device (Ollama reserves 457 MiB per GPU); the output buffer and overhead stay in host memory.
What the process around the runtime holds (interpreter, server) is not estimated.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError
from pipeline.params import TRAINED_CONTEXT, EvaluationSpec, MemorySpec, PerformanceSpec
from pipeline.progress import MIB
from pipeline.runtimes.onnxruntime import BATCH as ENCODER_BATCH

ESTIMATOR = "modelprep-memory/1"
F32 = 4
CUDA_CONTEXT_BYTES = 457 * MIB
# The estimate agrees with the peak measured during validation (peak RSS minus the RSS before the
# model loads) within this share, for every example variant (tests/test_memory.py).
TOLERANCE = 0.25


@dataclass(frozen=True)
class Architecture:
    """What memory depends on: the manifest's `architecture` block."""

    layers: int
    hidden_size: int
    ffn_size: int
    heads: int
    kv_heads: int
    head_size: int
    vocabulary: int
    trained_context: int | None = None
    sliding_window: int | None = None

    @classmethod
    def of(cls, block: dict[str, Any], where: str | Path = "manifest") -> Architecture:
        needed = [f.name for f in fields(cls) if f.default is MISSING]
        missing = [k for k in needed if not isinstance(block.get(k), int)]
        if missing:
            raise ModelprepError(where, f"the architecture lacks {', '.join(missing)}, which the memory estimate "
                                        "needs (config.json: num_hidden_layers, intermediate_size, ...)")
        return cls(**{k: block[k] for k in cls.__dataclass_fields__ if k in block})


@dataclass(frozen=True)
class Workload:
    """One serving profile: tokens of context per sequence, sequences at once, tokens per
    micro-batch, prompt tokens in the first call, and positions whose logits are returned
    (and kept by the caller: llama-cpp-python copies every returned row into its own array)."""

    context: int
    parallel: int = 1
    ubatch: int = 512
    prompt: int | None = None  # default: the whole context
    outputs: int | None = None  # default: one per sequence

    @property
    def prompt_tokens(self) -> int:
        return self.prompt if self.prompt is not None else self.context

    @property
    def output_rows(self) -> int:
        return self.outputs if self.outputs is not None else self.parallel


@dataclass(frozen=True)
class Estimate:
    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    output_bytes: int
    overhead_bytes: int
    vram_bytes: int

    @property
    def ram_bytes(self) -> int:
        """Running on the CPU: everything in host memory."""
        return self.weights_bytes + self.kv_cache_bytes + self.compute_bytes + self.output_bytes + self.overhead_bytes

    def record(self) -> dict[str, int]:
        return {**asdict(self), "ram_bytes": self.ram_bytes}


def _pad(value: int, multiple: int) -> int:
    return math.ceil(value / multiple) * multiple


class LlamaCppMemory:
    runtime = "llama.cpp"
    CELL_PADDING = 256
    MAX_OUTPUT_SEQUENCES = 256
    KV_BYTES = 2  # f16 cache, llama.cpp's default type_k/type_v
    # Fitted on this build (llama.cpp 0c1e570, CPU): 4 MiB of fixed structures and 160 bytes per
    # vocabulary entry (token text, score, lookup tables).
    FIXED_OVERHEAD = 4 * MIB
    PER_TOKEN_TYPE = 160

    def estimate(self, arch: Architecture, kind: str, weights: int, load: Workload) -> Estimate:
        tokens = load.context * load.parallel
        if kind == "decoder":
            cells = _pad(tokens, self.CELL_PADDING)
            held = min(cells, _pad(arch.sliding_window * load.parallel, self.CELL_PADDING)) \
                if arch.sliding_window else cells
            kv = arch.layers * held * arch.kv_heads * arch.head_size * 2 * self.KV_BYTES
            ubatch = min(load.ubatch, cells)
            span = cells
            output = F32 * load.output_rows * arch.vocabulary * 2  # llama.cpp's buffer and the caller's copy
        else:
            # Non-causal attention needs each sequence whole in one micro-batch; it spans that batch.
            ubatch = max(load.context, min(load.ubatch, tokens))
            kv, span = 0, ubatch
            output = F32 * min(ubatch, self.MAX_OUTPUT_SEQUENCES) * (arch.vocabulary + arch.hidden_size)
        compute = F32 * ubatch * (arch.heads * span + span + 2 * arch.ffn_size + 3 * arch.hidden_size)
        overhead = self.FIXED_OVERHEAD + self.PER_TOKEN_TYPE * arch.vocabulary
        return Estimate(weights, kv, compute, output, overhead, weights + kv + compute + CUDA_CONTEXT_BYTES)

    def validation_workload(self, kind: str, evaluation: EvaluationSpec, performance: PerformanceSpec) -> Workload:
        """What the performance measurement runs (`runtimes/llama_cpp.py`: n_ctx = n_batch = n_ubatch, logits
        for every position of a decoder window)."""
        if kind == "decoder":
            return Workload(context=evaluation.window, ubatch=evaluation.window, outputs=evaluation.window)
        return Workload(context=evaluation.max_sentence_tokens, ubatch=evaluation.max_sentence_tokens)


class OnnxRuntimeMemory:
    runtime = "onnxruntime"
    PREPACK_SHARE = 0.2  # measured 0.17-0.24 of the weights on the example models
    ARENA_GROWTH = 2
    FIXED_OVERHEAD = 16 * MIB

    def estimate(self, arch: Architecture, kind: str, weights: int, load: Workload) -> Estimate:
        loaded = weights + int(self.PREPACK_SHARE * weights)
        if kind == "decoder":
            kv = 2 * arch.layers * load.context * load.parallel * arch.kv_heads * arch.head_size * 2 * F32
            tokens, span = load.prompt_tokens * load.parallel, load.prompt_tokens
            logits = F32 * tokens * arch.vocabulary
        else:
            kv, logits = 0, 0
            tokens, span = load.context * load.parallel, load.context
        live = F32 * tokens * max(2 * arch.heads * span, 2 * arch.ffn_size) + logits
        compute = self.ARENA_GROWTH * live
        return Estimate(loaded, kv, compute, 0, self.FIXED_OVERHEAD, loaded + kv + compute + CUDA_CONTEXT_BYTES)

    def validation_workload(self, kind: str, evaluation: EvaluationSpec, performance: PerformanceSpec) -> Workload:
        """What the performance measurement runs (`runtimes/onnxruntime.py`: the prompt in one call, then one
        token per call; sentences in batches of 32)."""
        if kind == "decoder":
            return Workload(context=performance.prompt_tokens + performance.new_tokens,
                            prompt=performance.prompt_tokens)
        return Workload(context=evaluation.max_sentence_tokens, parallel=ENCODER_BATCH)


ESTIMATORS = {"gguf": LlamaCppMemory(), "onnx": OnnxRuntimeMemory()}


def serving_workloads(arch: Architecture, spec: MemorySpec) -> list[Workload]:
    """params.yaml's profiles for this model: contexts beyond its trained one are left out."""
    trained = arch.trained_context
    contexts = sorted({trained if c == TRAINED_CONTEXT else c for c in spec.contexts
                       if c == TRAINED_CONTEXT or not trained or c <= trained} - {None})
    return [Workload(context=c, parallel=p, ubatch=spec.ubatch) for c in contexts for p in spec.parallel]


def memory_record(fmt: str, kind: str, architecture: dict[str, Any], weights: int, disk: int,
                  spec: MemorySpec, where: str | Path) -> dict[str, Any]:
    """The manifest's `memory` block: an estimate per serving profile."""
    arch, estimator = Architecture.of(architecture, where), ESTIMATORS[fmt]
    workloads = serving_workloads(arch, spec)
    if not workloads:
        raise ModelprepError("params.yaml", f"no 'memory.contexts' entry fits {where}'s trained context of "
                                            f"{arch.trained_context} tokens; add 'trained' or a shorter context")
    profiles = [{"context": load.context, "parallel": load.parallel, "ubatch": load.ubatch,
                 **estimator.estimate(arch, kind, weights, load).record()} for load in workloads]
    return {"disk_bytes": disk, "estimator": ESTIMATOR, "profiles": profiles, "runtime": estimator.runtime}


def measured_memory(fmt: str, kind: str, architecture: dict[str, Any], weights: int, performance: dict[str, Any],
                    evaluation: EvaluationSpec, perf_spec: PerformanceSpec, where: str | Path) -> dict[str, Any]:
    """The estimate for the workload validation measured, beside the measured figure (peak RSS minus the
    RSS before the model loaded; `where` is the performance record)."""
    estimator = ESTIMATORS[fmt]
    load = estimator.validation_workload(kind, evaluation, perf_spec)
    estimate = estimator.estimate(Architecture.of(architecture, where), kind, weights, load).ram_bytes
    measured = performance["peak_rss_bytes"] - performance["baseline_rss_bytes"]
    if measured <= 0:
        raise ModelprepError(where, f"peak RSS ({performance['peak_rss_bytes']}) is not above the baseline "
                                    f"({performance['baseline_rss_bytes']}): the measurement is broken")
    ratio = estimate / measured
    return {"estimate_bytes": estimate, "measured_bytes": measured, "ratio": round(ratio, 3),
            "tolerance": TOLERANCE, "within_tolerance": abs(ratio - 1) <= TOLERANCE,
            "workload": {k: v for k, v in asdict(load).items() if v is not None}}
