"""Memory llama.cpp needs to serve a GGUF variant: its own reservation for each workload
(`reservation.py`), not a formula of ours.

- weights: the tensor bytes, mapped from the file as stored;
- KV cache and compute buffer: what llama.cpp reserves when it creates the workload's context
  (cells padded as it pads them; a sliding window only where llama.cpp applies one: a Mistral
  checkpoint converts to architecture `llama`, which holds the whole context);
- output buffer: llama.cpp's rule, 4 bytes x returned rows x vocabulary (+ hidden size with
  embeddings): one row per sequence when serving, every position when validation scores a window;
- overhead: structures outside those buffers (vocabulary tables, graph metadata, threads; 4 MiB and
  160 bytes per vocabulary entry, fitted on this build) and the caller's copy of the outputs
  (llama-cpp-python keeps every row it is given).
RAM: every buffer in host memory. VRAM, every layer offloaded: weights, KV cache and compute buffer
plus the CUDA context. The reservation is made where this llama.cpp build runs the layers: on the
GPU with a CUDA build, else on the CPU, whose buffers then stand for the GPU's (the record's method
says which).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.formats.gguf.files import gguf_file
from pipeline.formats.gguf.reservation import ContextRequest, reserve
from pipeline.hardware.memory import CUDA_CONTEXT_BYTES, F32, Architecture, Estimate, Workload
from pipeline.progress import MIB

if TYPE_CHECKING:
    from pipeline.evaluate import EvaluationSpec, PerformanceSpec


class LlamaCppMemory:
    runtime = "llama.cpp"
    MAX_OUTPUT_SEQUENCES = 256
    FIXED_OVERHEAD = 4 * MIB
    PER_TOKEN_TYPE = 160

    def method(self) -> str:
        from pipeline.formats.gguf.runtime import gpu_offload_supported

        where = "the GPU" if gpu_offload_supported() else "the CPU (this llama.cpp build has no CUDA: VRAM adds " \
                                                          "the CUDA context to the CPU buffers)"
        return f"llama.cpp's own reservation for each context (no_alloc), made on {where}"

    def estimate(self, arch: Architecture, kind: str, weights: int, loads: list[Workload],
                 artifact: Path) -> list[Estimate]:
        reserved = reserve(gguf_file(artifact), [self._request(kind, load) for load in loads])
        estimates = []
        for load, buffers in zip(loads, reserved, strict=True):
            if kind == "decoder":
                output = F32 * load.output_rows * arch.vocabulary
            else:
                ubatch = self._request(kind, load).n_ubatch
                output = F32 * min(ubatch, self.MAX_OUTPUT_SEQUENCES) * (arch.vocabulary + arch.hidden_size)
            overhead = self.FIXED_OVERHEAD + self.PER_TOKEN_TYPE * arch.vocabulary + output
            held = weights + buffers.kv_bytes + buffers.compute_bytes
            estimates.append(Estimate(weights, buffers.kv_bytes, buffers.compute_bytes, output, overhead,
                                      held + CUDA_CONTEXT_BYTES))
        return estimates

    @staticmethod
    def _request(kind: str, load: Workload) -> ContextRequest:
        tokens = load.context * load.parallel
        if kind == "decoder":
            return ContextRequest(tokens, load.parallel, load.ubatch, load.ubatch, embeddings=False)
        # Non-causal attention needs each sequence whole in one micro-batch.
        ubatch = max(load.context, min(load.ubatch, tokens))
        return ContextRequest(tokens, load.parallel, ubatch, ubatch, embeddings=True)

    def validation_workload(self, kind: str, evaluation: EvaluationSpec, performance: PerformanceSpec) -> Workload:
        """What the performance measurement runs (`runtime.py`: n_ctx = n_batch = n_ubatch, logits
        for every position of a decoder window)."""
        if kind == "decoder":
            return Workload(context=evaluation.window, ubatch=evaluation.window, outputs=evaluation.window)
        return Workload(context=evaluation.max_sentence_tokens, ubatch=evaluation.max_sentence_tokens)
