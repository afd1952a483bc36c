"""Memory figures: llama.cpp's own reservation against what it really allocates (every GGUF example
variant and a sliding-window model), ONNX Runtime's formula against hand-computed figures, and every
estimate against the peak measured while validating the example variants."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline import formats
from pipeline.errors import ModelprepError
from pipeline.formats.gguf.convert import convert_to_gguf
from pipeline.formats.gguf.files import gguf_file
from pipeline.formats.gguf.reservation import reserve
from pipeline.hardware.memory import (
    MIB,
    TOLERANCE,
    Architecture,
    MemorySpec,
    Workload,
    memory_record,
    serving_workloads,
)
from pipeline.layout import Layout
from pipeline.manifest.describe import architecture
from tests.project import RELEASES, measured_here

# Mistral-7B: 32 layers, 4096 wide, FFN 14336, 32 query and 8 KV heads of 128, 32000 tokens.
MISTRAL_7B = Architecture(layers=32, hidden_size=4096, ffn_size=14336, heads=32, kv_heads=8, head_size=128,
                          vocabulary=32000, trained_context=32768, sliding_window=4096)
LLAMA_2_7B = Architecture(layers=32, hidden_size=4096, ffn_size=11008, heads=32, kv_heads=32, head_size=128,
                          vocabulary=32000, trained_context=4096)
LLAMA_CPP, ONNX_RUNTIME = formats.get("gguf").memory, formats.get("onnx").memory


# llama.cpp logs its buffer sizes in MiB with two decimals (which is what the reservation reads): one
# unit of the last digit.
LOGGED_MIB = 0.01 * MIB


def _requests(kind, profiles):
    return [LLAMA_CPP._request(kind, Workload(context=p["context"], parallel=p["parallel"], ubatch=p["ubatch"]))
            for p in profiles]


def _assert_as_allocated(gguf, kind, profiles):
    """The manifest's KV cache and compute buffer against what llama.cpp reports when it really allocates
    each profile's context (not no_alloc)."""
    real = reserve(gguf, _requests(kind, profiles), allocate=True)
    assert len(real) == len(profiles)
    for profile, allocated in zip(profiles, real, strict=True):
        assert profile["kv_cache_bytes"] == pytest.approx(allocated.kv_bytes, rel=0.01), profile
        assert profile["compute_bytes"] == pytest.approx(allocated.compute_bytes, rel=0.10), profile
        assert profile["compute_bytes"] > 0


@pytest.mark.parametrize("release", [r for r in RELEASES if "onnx" not in r])
def test_gguf_memory_is_what_llama_cpp_allocates(built, release):
    manifest = json.loads((built / release).read_text())
    assert manifest["memory"]["method"].startswith("llama.cpp's own reservation")
    gguf = gguf_file(built / manifest["artifact"])
    _assert_as_allocated(gguf, manifest["kind"], manifest["memory"]["profiles"])
    if manifest["kind"] == "decoder":  # f16 K and V per cell and layer; each sequence's cells padded to 256
        arch = manifest["architecture"]
        for p in manifest["memory"]["profiles"]:
            cells = p["parallel"] * -(-p["context"] // 256) * 256
            expected = arch["layers"] * cells * arch["kv_heads"] * arch["head_size"] * 2 * 2
            assert p["kv_cache_bytes"] == pytest.approx(expected, abs=LOGGED_MIB)


def test_sliding_window_model_holds_what_llama_cpp_holds(built, tmp_path):
    """A Mistral checkpoint with a 64-token sliding window converts to llama.cpp's `llama` architecture,
    which keeps every cell: the figures follow llama.cpp, not the config's window (4x less here)."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    hf = tmp_path / "hf"
    config = MistralConfig(vocab_size=4096, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                           sliding_window=64, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    MistralForCausalLM(config).save_pretrained(hf, safe_serialization=True)
    for name in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(built / "build/tiny-llama/hf" / name, hf / name)
    gguf = tmp_path / "mistral.gguf"
    convert_to_gguf(hf, "f16", gguf, gguf, 1)
    arch = architecture(json.loads((hf / "config.json").read_text()))
    assert arch["sliding_window"] == 64
    record = memory_record(LLAMA_CPP, "decoder", arch, gguf.stat().st_size, gguf.stat().st_size,
                           MemorySpec(("trained",), (1, 2), 512), gguf, "mistral")
    _assert_as_allocated(gguf, "decoder", record["profiles"])
    assert [p["kv_cache_bytes"] for p in record["profiles"]] == pytest.approx([2 * 256 * 2 * 32 * 2 * 2,
                                                                              2 * 512 * 2 * 32 * 2 * 2], abs=LOGGED_MIB)


def test_onnxruntime_terms_by_hand():
    estimate = ONNX_RUNTIME._estimate(LLAMA_2_7B, "decoder", 1000, Workload(context=1024))
    assert estimate.weights_bytes == 1200  # plus a fifth for prepacked GEMM weights
    assert estimate.kv_cache_bytes == 2 * 32 * 1024 * 32 * 128 * 2 * 4  # f32 past and present
    # The whole prompt in one call: scores and probabilities 2 x 32 heads x 1024 per token beside Q, K, V and
    # the residual (4 x 4096), doubled by the arena, plus the logits of every prompt position.
    assert estimate.compute_bytes == 2 * (4 * 1024 * (2 * 32 * 1024 + 4 * 4096) + 4 * 1024 * 32000)
    bert = Architecture(layers=6, hidden_size=384, ffn_size=1536, heads=12, kv_heads=12, head_size=32,
                        vocabulary=30522, trained_context=512)
    encoder = ONNX_RUNTIME._estimate(bert, "encoder", 1000, Workload(context=128, parallel=32))
    assert encoder.kv_cache_bytes == 0
    # Attention (scores and probabilities 2 x 12 x 128, Q, K, V and residual 4 x 384) outgrows the FFN (its two
    # projections, the residual and its normalised input: 2 x 1536 + 2 x 384).
    assert encoder.compute_bytes == 2 * 4 * 128 * 32 * (2 * 12 * 128 + 4 * 384)


def test_profiles_stop_at_the_trained_context():
    spec = MemorySpec(contexts=(2048, 8192, "trained"), parallel=(1, 4), ubatch=512)
    assert [(w.context, w.parallel) for w in serving_workloads(LLAMA_2_7B, spec)] == \
        [(2048, 1), (2048, 4), (4096, 1), (4096, 4)]
    assert [w.context for w in serving_workloads(MISTRAL_7B, spec)] == [2048, 2048, 8192, 8192, 32768, 32768]


@pytest.mark.parametrize("release", RELEASES)
def test_estimate_agrees_with_the_measured_peak(built, release):
    """Each example variant, as `modelprep measure` measured it on this host: the estimate for that workload
    against the peak RSS of the measuring process minus its RSS before the model loaded."""
    manifest = json.loads((built / release).read_text())
    entry = measured_here(built, release)
    memory, performance = entry["memory"], entry["performance"]
    measured = performance["peak_rss_bytes"] - performance["baseline_rss_bytes"]
    estimator = formats.get(manifest["format"]).memory
    metrics = json.loads(Layout(built).metrics(manifest["model"], manifest["variant"]).read_text())
    estimate = estimator.estimate(Architecture.of(manifest["architecture"]), manifest["kind"],
                                  metrics["size"]["bytes"], [Workload(**memory["workload"])],
                                  built / manifest["artifact"])[0].ram_bytes
    assert (memory["estimate_bytes"], memory["measured_bytes"]) == (estimate, measured)
    print(f"{release}: estimate {estimate / MIB:.1f} MiB, measured {measured / MIB:.1f} MiB, "
          f"ratio {estimate / measured:.2f}")
    assert abs(estimate / measured - 1) <= TOLERANCE
    assert memory["within_tolerance"] and memory["tolerance"] == TOLERANCE


def test_missing_figures_and_profiles_are_one_clear_error():
    block = {"layers": 4, "hidden_size": 256, "ffn_size": None, "heads": 8, "kv_heads": 2, "head_size": 32,
             "vocabulary": 4096, "trained_context": 128}
    with pytest.raises(ModelprepError, match="config.json: the architecture lacks ffn_size"):
        memory_record(LLAMA_CPP, "decoder", block, 1000, 1000, MemorySpec((2048,), (1,), 512), Path("x"),
                      "config.json")
    with pytest.raises(ModelprepError, match="no 'memory.contexts' entry fits config.json's trained context of 128"):
        memory_record(LLAMA_CPP, "decoder", {**block, "ffn_size": 768}, 1000, 1000, MemorySpec((2048,), (1,), 512),
                      Path("x"), "config.json")
