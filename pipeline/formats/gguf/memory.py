"""Memory llama.cpp needs to serve a GGUF variant, as its context reports its buffers.

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
VRAM: the same with every layer offloaded; the output buffer and overhead stay in host memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.hardware.memory import (
    CUDA_CONTEXT_BYTES,
    F32,
    Architecture,
    Estimate,
    Workload,
    pad_to,
)
from pipeline.progress import MIB

if TYPE_CHECKING:
    from pipeline.evaluate import EvaluationSpec, PerformanceSpec


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
            cells = pad_to(tokens, self.CELL_PADDING)
            held = min(cells, pad_to(arch.sliding_window * load.parallel, self.CELL_PADDING)) \
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
        """What the performance measurement runs (`runtime.py`: n_ctx = n_batch = n_ubatch, logits
        for every position of a decoder window)."""
        if kind == "decoder":
            return Workload(context=evaluation.window, ubatch=evaluation.window, outputs=evaluation.window)
        return Workload(context=evaluation.max_sentence_tokens, ubatch=evaluation.max_sentence_tokens)
