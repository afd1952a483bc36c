"""Memory ONNX Runtime needs to serve an ONNX variant (CPU and CUDA execution providers).

- weights: the model's bytes, plus the copies its GEMM kernels prepack (a fifth more on the examples);
- KV cache: the exported past key/values in f32 for the tokens held, twice (past in, present out);
- compute: its arena for one run's activations: the whole prompt in one call (no micro-batches);
  per token, attention holds its scores and probabilities (2 x heads x span) beside Q, K, V and the
  residual stream (4 x hidden), the FFN its two projections (2 x FFN) beside the residual and its
  normalised input (2 x hidden); plus the logits of every prompt position; the arena grows by
  doubling, so twice the live set;
- overhead: session, kernel registry and graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.formats.onnx.runtime import BATCH as ENCODER_BATCH
from pipeline.hardware.memory import (
    CUDA_CONTEXT_BYTES,
    F32,
    Architecture,
    Estimate,
    Workload,
)
from pipeline.progress import MIB

if TYPE_CHECKING:
    from pipeline.evaluate import EvaluationSpec, PerformanceSpec


class OnnxRuntimeMemory:
    runtime = "onnxruntime"
    PREPACK_SHARE = 0.2  # measured 0.17-0.24 of the weights on the example models
    ARENA_GROWTH = 2
    FIXED_OVERHEAD = 16 * MIB

    def method(self) -> str:
        return "modelprep's formula of ONNX Runtime's terms (checked against the peak measured in validation)"

    def estimate(self, arch: Architecture, kind: str, weights: int, loads: list[Workload],
                 artifact: Path) -> list[Estimate]:
        return [self._estimate(arch, kind, weights, load) for load in loads]

    def _estimate(self, arch: Architecture, kind: str, weights: int, load: Workload) -> Estimate:
        loaded = weights + int(self.PREPACK_SHARE * weights)
        if kind == "decoder":
            kv = 2 * arch.layers * load.context * load.parallel * arch.kv_heads * arch.head_size * 2 * F32
            tokens, span = load.prompt_tokens * load.parallel, load.prompt_tokens
            logits = F32 * tokens * arch.vocabulary
        else:
            kv, logits = 0, 0
            tokens, span = load.context * load.parallel, load.context
        per_token = max(2 * arch.heads * span + 4 * arch.hidden_size, 2 * arch.ffn_size + 2 * arch.hidden_size)
        live = F32 * tokens * per_token + logits
        compute = self.ARENA_GROWTH * live
        return Estimate(loaded, kv, compute, 0, self.FIXED_OVERHEAD, loaded + kv + compute + CUDA_CONTEXT_BYTES)

    def validation_workload(self, kind: str, evaluation: EvaluationSpec, performance: PerformanceSpec) -> Workload:
        """What the performance measurement runs (`runtime.py`: the prompt in one call, then one
        token per call; sentences in batches of 32)."""
        if kind == "decoder":
            return Workload(context=performance.prompt_tokens + performance.new_tokens,
                            prompt=performance.prompt_tokens)
        return Workload(context=evaluation.max_sentence_tokens, parallel=ENCODER_BATCH)
