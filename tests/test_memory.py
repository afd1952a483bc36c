"""The memory estimate: the formula against hand-computed figures for known architectures, and the
estimate against the peak measured while validating every example variant."""

from __future__ import annotations

import json

import pytest

from pipeline import formats
from pipeline.errors import ModelprepError
from pipeline.hardware.memory import (
    CUDA_CONTEXT_BYTES,
    MIB,
    TOLERANCE,
    Architecture,
    MemorySpec,
    Workload,
    memory_record,
    serving_workloads,
)
from tests.project import RELEASES

# Mistral-7B: 32 layers, 4096 wide, FFN 14336, 32 query and 8 KV heads of 128, 32000 tokens.
MISTRAL_7B = Architecture(layers=32, hidden_size=4096, ffn_size=14336, heads=32, kv_heads=8, head_size=128,
                          vocabulary=32000, trained_context=32768, sliding_window=4096)
LLAMA_2_7B = Architecture(layers=32, hidden_size=4096, ffn_size=11008, heads=32, kv_heads=32, head_size=128,
                          vocabulary=32000, trained_context=4096)
WEIGHTS = 7_000_000_000
LLAMA_CPP, ONNX_RUNTIME = formats.get("gguf").memory, formats.get("onnx").memory


def test_llama_cpp_kv_cache_is_the_published_figure():
    # The reference's worked example: 32 layers x 8192 cells x 8 KV heads x (128 + 128) x 2 bytes = 1 GiB.
    no_window = Architecture(**{**MISTRAL_7B.__dict__, "sliding_window": None})
    estimate = LLAMA_CPP.estimate(no_window, "decoder", WEIGHTS, Workload(context=8192))
    assert estimate.kv_cache_bytes == 2 ** 30
    # The sliding window caps the cells held: 4096 of 8192.
    windowed = LLAMA_CPP.estimate(MISTRAL_7B, "decoder", WEIGHTS, Workload(context=8192))
    assert windowed.kv_cache_bytes == 2 ** 29


def test_llama_cpp_terms_by_hand():
    estimate = LLAMA_CPP.estimate(LLAMA_2_7B, "decoder", WEIGHTS, Workload(context=4096, parallel=2))
    cells = 8192  # 2 sequences x 4096, already a multiple of 256
    assert estimate.kv_cache_bytes == 32 * cells * 32 * 128 * 2 * 2 == 4 * 2 ** 30
    # Micro-batch of 512: f32 scores 32 heads x 512 x 8192, the mask 512 x 8192, activations 512 x (2 x 11008 + 3 x 4096).
    assert estimate.compute_bytes == 4 * (32 * 512 * 8192 + 512 * 8192 + 512 * (2 * 11008 + 3 * 4096)) == 623_902_720
    assert estimate.output_bytes == 4 * 2 * 32000 * 2  # one row per sequence, llama.cpp's and the caller's copy
    assert estimate.overhead_bytes == 4 * MIB + 160 * 32000
    assert estimate.ram_bytes == WEIGHTS + 4 * 2 ** 30 + 623_902_720 + 512_000 + 4 * MIB + 5_120_000
    assert estimate.vram_bytes == WEIGHTS + 4 * 2 ** 30 + 623_902_720 + CUDA_CONTEXT_BYTES
    # Cells are padded to 256: a 100-token context holds 256.
    small = LLAMA_CPP.estimate(LLAMA_2_7B, "decoder", WEIGHTS, Workload(context=100))
    assert small.kv_cache_bytes == 32 * 256 * 32 * 128 * 2 * 2


def test_onnxruntime_terms_by_hand():
    estimate = ONNX_RUNTIME.estimate(LLAMA_2_7B, "decoder", 1000, Workload(context=1024))
    assert estimate.weights_bytes == 1200  # plus a fifth for prepacked GEMM weights
    assert estimate.kv_cache_bytes == 2 * 32 * 1024 * 32 * 128 * 2 * 4  # f32 past and present
    # The whole prompt in one call: scores and probabilities 2 x 32 heads x 1024 per token, doubled by the arena,
    # plus the logits of every prompt position.
    assert estimate.compute_bytes == 2 * (4 * 1024 * 2 * 32 * 1024 + 4 * 1024 * 32000)
    bert = Architecture(layers=6, hidden_size=384, ffn_size=1536, heads=12, kv_heads=12, head_size=32,
                        vocabulary=30522, trained_context=512)
    encoder = ONNX_RUNTIME.estimate(bert, "encoder", 1000, Workload(context=128, parallel=32))
    assert encoder.kv_cache_bytes == 0
    assert encoder.compute_bytes == 2 * 4 * 128 * 32 * max(2 * 12 * 128, 2 * 1536)


def test_profiles_stop_at_the_trained_context():
    spec = MemorySpec(contexts=(2048, 8192, "trained"), parallel=(1, 4), ubatch=512)
    assert [(w.context, w.parallel) for w in serving_workloads(LLAMA_2_7B, spec)] == \
        [(2048, 1), (2048, 4), (4096, 1), (4096, 4)]
    assert [w.context for w in serving_workloads(MISTRAL_7B, spec)] == [2048, 2048, 8192, 8192, 32768, 32768]


@pytest.mark.parametrize("release", RELEASES)
def test_estimate_agrees_with_the_measured_peak(built, release):
    """Each example variant, as validation measured it: the estimate for that workload against the
    peak RSS of the measuring process minus its RSS before the model loaded."""
    manifest = json.loads((built / release).read_text())
    memory, performance = manifest["measured"]["memory"], manifest["measured"]["performance"]
    measured = performance["peak_rss_bytes"] - performance["baseline_rss_bytes"]
    estimator = formats.get(manifest["format"]).memory
    metrics = json.loads((built / "metrics" / release.removeprefix("manifests/")).read_text())
    estimate = estimator.estimate(Architecture.of(manifest["architecture"]), manifest["kind"],
                                  metrics["size"]["bytes"], Workload(**memory["workload"])).ram_bytes
    assert (memory["estimate_bytes"], memory["measured_bytes"]) == (estimate, measured)
    print(f"{release}: estimate {estimate / MIB:.1f} MiB, measured {measured / MIB:.1f} MiB, "
          f"ratio {estimate / measured:.2f}")
    assert abs(estimate / measured - 1) <= TOLERANCE
    assert memory["within_tolerance"] and memory["tolerance"] == TOLERANCE


def test_missing_figures_and_profiles_are_one_clear_error():
    block = {"layers": 4, "hidden_size": 256, "ffn_size": None, "heads": 8, "kv_heads": 2, "head_size": 32,
             "vocabulary": 4096, "trained_context": 128}
    with pytest.raises(ModelprepError, match="config.json: the architecture lacks ffn_size"):
        memory_record(LLAMA_CPP, "decoder", block, 1000, 1000, MemorySpec((2048,), (1,), 512), "config.json")
    with pytest.raises(ModelprepError, match="no 'memory.contexts' entry fits config.json's trained context of 128"):
        memory_record(LLAMA_CPP, "decoder", {**block, "ffn_size": 768}, 1000, 1000, MemorySpec((2048,), (1,), 512),
                      "config.json")
