"""ONNX variants: real optimum exports, real ONNX Runtime quantizers and sessions, measured figures."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from pipeline.device import cuda_available
from pipeline.errors import ModelprepError
from pipeline.evaluate import Reference
from pipeline.formats.onnx.export import export_onnx
from pipeline.formats.onnx.feeds import DecoderIO
from pipeline.formats.onnx.files import DATA_FILE, GENAI_CONFIG, MODEL_FILE, model_bytes
from pipeline.formats.onnx.inspect import describe_onnx
from pipeline.formats.onnx.quantize import quantize_onnx
from pipeline.formats.onnx.runtime import OnnxRuntime, cuda_provider_built
from pipeline.layout import Layout
from pipeline.params import load_params
from tests.project import dvc, edited_params, ran_stages

MODELS = ("tiny-llama", "all-minilm-l6-v2")


def variant_dir(built, model, variant):
    return Layout(built).artifact(model, variant)


def metrics(built, model, variant):
    return json.loads(Layout(built).metrics(model, variant).read_text())["accuracy"]


def ort(folder, kind="decoder", device="cpu", allow_cpu_fallback=False):
    return OnnxRuntime(folder, kind, device, 2, allow_cpu_fallback, 128)


def prompt_tokens(built, count=16):
    return Reference.load(built / "build/tiny-llama/reference").inputs[0][:count]


def test_int8_and_int4_load_and_decode(built):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(variant_dir(built, "tiny-llama", "onnx-fp32"))
    prompt = tokenizer.encode("The import statement")
    for variant in ("onnx-int8", "onnx-int4"):
        runtime = ort(variant_dir(built, "tiny-llama", variant))
        tokens = list(runtime.generate(np.array(prompt), 24))
        assert len(tokens) == 24 and all(0 <= t < tokenizer.vocab_size for t in tokens)
        assert tokenizer.decode(tokens).strip(), "greedy decoding produces text"
        assert runtime.info()["providers"] == ["CPUExecutionProvider"]
        runtime.close()
        encoder = ort(variant_dir(built, "all-minilm-l6-v2", variant), "encoder")
        vectors = encoder.embed(["A sentence to embed.", "Another, longer sentence to embed in the same batch."])
        assert vectors.shape == (2, 384) and np.isfinite(vectors).all() and (np.linalg.norm(vectors, axis=1) > 0).all()


@pytest.mark.skipif(cuda_provider_built() and cuda_available(), reason="the CUDA provider starts on this machine")
def test_a_cuda_provider_that_does_not_start_is_an_error_unless_fallback_is_allowed(built):
    # ONNX Runtime itself falls back to the CPU when the CUDA provider cannot start (here: it is not
    # in this build at all, the same silent path as a failed CUDA initialisation).
    folder = variant_dir(built, "tiny-llama", "onnx-int8")
    with pytest.raises(ModelprepError, match="CUDAExecutionProvider was requested but failed to initialize"):
        ort(folder, device="cuda", allow_cpu_fallback=False)
    fallback = ort(folder, device="cuda", allow_cpu_fallback=True)
    assert fallback.info()["providers"] == ["CPUExecutionProvider"] and fallback.info()["device"].startswith("cpu:")


@pytest.mark.parametrize("variant", ["onnx-fp32", "onnx-int8", "onnx-int4"])
def test_the_cache_check_passes_a_working_cache_and_fails_a_dropped_past(built, variant, monkeypatch):
    # Decoding through the past key/values must give the one-call distributions; feeding zeros as
    # the past (a graph whose present outputs are not wired to its past inputs) must be caught.
    window = Reference.load(built / "build/tiny-llama/reference").inputs[0]
    runtime = ort(variant_dir(built, "tiny-llama", variant))
    whole, _ = runtime._step(window, runtime.io.empty_past(), 0)
    assert runtime._check_cache(window, whole) < 1e-4
    real_next_past = DecoderIO.next_past
    zeroed = lambda io, *args: {name: np.zeros_like(past) for name, past in real_next_past(io, *args).items()}  # noqa: E731
    monkeypatch.setattr(DecoderIO, "next_past", zeroed)
    with pytest.raises(ModelprepError, match=r"nats \(KL divergence\) from the whole window's .*cache path is broken"):
        runtime._check_cache(window, whole)


def test_quantized_kld_is_above_fp32_and_within_its_gate(built):
    params = load_params(built / "params.yaml")
    fp32, int8, int4 = (metrics(built, "tiny-llama", v) for v in ("onnx-fp32", "onnx-int8", "onnx-int4"))
    assert fp32["mean_kld"] < 1e-6 and fp32["same_top1"] > 0.999, "export and cached decoding cost almost nothing"
    assert fp32["mean_kld"] < int8["mean_kld"] < int4["mean_kld"]
    for variant, figures in (("onnx-int8", int8), ("onnx-int4", int4)):
        assert figures["mean_kld"] <= params.gate(variant).max_mean_kld
        assert figures["scored_tokens"] >= 4096
    enc = {v: metrics(built, "all-minilm-l6-v2", v) for v in ("onnx-fp32", "onnx-int8", "onnx-int4")}
    assert enc["onnx-fp32"]["min_cosine"] > 0.9999
    assert enc["onnx-fp32"]["mean_cosine"] > enc["onnx-int8"]["mean_cosine"] > enc["onnx-int4"]["mean_cosine"]
    assert enc["onnx-int4"]["mean_cosine"] >= params.gate("onnx-int4").min_mean_cosine


def test_int4_weights_are_at_least_three_times_smaller(built):
    for model in MODELS:
        fp32, int4 = (model_bytes(variant_dir(built, model, v)) for v in ("onnx-fp32", "onnx-int4"))
        assert fp32 / int4 >= 3, f"{model}: {fp32} bytes fp32, {int4} bytes int4"
        operators = describe_onnx(variant_dir(built, model, "onnx-int4"))["operators"]
        assert operators.get("MatMulNBits", 0) > 0 and operators.get("GatherBlockQuantized", 0) >= 1
        spec = load_params(built / "params.yaml").variant("onnx-int4").settings.settings
        graph = onnx.load(variant_dir(built, model, "onnx-int4") / MODEL_FILE).graph
        settings = [{a.name: a.i for a in n.attribute} for n in graph.node if n.op_type == "MatMulNBits"]
        assert {(s["block_size"], s["accuracy_level"], s["bits"]) for s in settings} == {
            (spec.block_size, spec.accuracy_level, 4)}, "the params' block size and compute type reach the graph"


def test_genai_config_is_accepted_by_onnxruntime_genai(built):
    import onnxruntime_genai as og
    from transformers import AutoTokenizer

    prompt = [int(t) for t in prompt_tokens(built)]
    for variant in ("onnx-fp32", "onnx-int4"):
        folder = variant_dir(built, "tiny-llama", variant)
        model = og.Model(str(folder))
        search = og.GeneratorParams(model)
        search.set_search_options(max_length=len(prompt) + 16, do_sample=False)
        generator = og.Generator(model, search)
        generator.append_tokens(prompt)
        while not generator.is_done():
            generator.generate_next_token()
        from_genai = [int(t) for t in generator.get_sequence(0)[len(prompt):]]
        ours = ort(folder)
        assert len(from_genai) == 16
        assert from_genai == list(ours.generate(np.array(prompt), 16)), f"{variant}: GenAI and modelprep disagree"
        # GenAI's own tokenizer reads the shipped tokenizer files the same way transformers does
        # (GenAI adds no BOS when encoding; the generator is given it with the prompt).
        text = "The import statement: import_stmt ::= 'import' module ['as' identifier]"
        expected = AutoTokenizer.from_pretrained(folder).encode(text, add_special_tokens=False)
        assert [int(t) for t in og.Tokenizer(model).encode(text)] == expected
    # ONNX Runtime GenAI runs generative models only: encoders ship without the file.
    assert not (variant_dir(built, "all-minilm-l6-v2", "onnx-int4") / GENAI_CONFIG).exists()


def test_large_weights_go_to_external_data_and_run_the_same(built, tmp_path):
    hf = built / "build/tiny-llama/hf"
    export_onnx(hf, "decoder", 21, 2**20, tmp_path / "base")
    assert (tmp_path / "base" / DATA_FILE).stat().st_size > 19 * 2**20
    assert (tmp_path / "base" / MODEL_FILE).stat().st_size < 2**20
    int4 = load_params(built / "params.yaml").variant("onnx-int4").settings
    quantize_onnx(tmp_path / "base", int4.method, int4.settings, 2**20, built / "build/corpus", tmp_path / "int4")
    assert describe_onnx(tmp_path / "int4")["external_data"]
    window = Reference.load(built / "build/tiny-llama/reference").inputs[0]
    for ours, shipped in ((tmp_path / "base", "onnx-fp32"), (tmp_path / "int4", "onnx-int4")):
        external = ort(ours).next_token_logits(window)
        inline = ort(variant_dir(built, "tiny-llama", shipped))
        np.testing.assert_array_equal(external, inline.next_token_logits(window))


def test_gptq_variant_builds_and_validates_on_the_cpu(built):
    def enable_gptq(params):
        params["onnx"]["variants"]["onnx-int4-gptq"] = {
            "block_size": 32, "symmetric": True, "accuracy_level": 4, "calibration_windows": 32,
            "calibration_window": 128, "percdamp": 0.01, "actorder": False}

    # plan reruns with any variant change; its bytes do not change, so the ONNX base is not rebuilt
    stages = {f"{s}@tiny-llama-onnx-int4-gptq" for s in ("quantize_onnx", "evaluate", "release")} | {"plan"}
    with edited_params(built, enable_gptq):
        result = dvc("repro", "release@tiny-llama-onnx-int4-gptq", cwd=built)
        assert ran_stages(result.stdout) == stages
        record = json.loads(Layout(built).release_record("tiny-llama", "onnx-int4-gptq").read_text())
        assert record["quantization"]["method"] == "weight-only GPTQ"
        # The params' block size and compute type reach every 4-bit matrix of the graph.
        spec = load_params(built / "params.yaml").variant("onnx-int4-gptq").settings.settings
        model = onnx.load(variant_dir(built, "tiny-llama", "onnx-int4-gptq") / MODEL_FILE)
        settings = [{a.name: a.i for a in n.attribute} for n in model.graph.node if n.op_type == "MatMulNBits"]
        base = onnx.load(variant_dir(built, "tiny-llama", "onnx-fp32") / MODEL_FILE, load_external_data=False)
        weights = {i.name for i in base.graph.initializer}
        projections = [n for n in base.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
        # Every projection of the builder's graph (q/k/v packed) and the output head; 5 per layer at least.
        assert len(settings) == len(projections) >= 5 * 4 + 1
        assert all(s["block_size"] == spec.block_size and s["accuracy_level"] == spec.accuracy_level and s["bits"] == 4
                   for s in settings)
        gptq, fp32, rtn = (metrics(built, "tiny-llama", v) for v in ("onnx-int4-gptq", "onnx-fp32", "onnx-int4"))
        assert fp32["mean_kld"] < gptq["mean_kld"] < 3 * rtn["mean_kld"], "GPTQ is a 4-bit variant, near RTN's error"
        gptq_bytes = model_bytes(variant_dir(built, "tiny-llama", "onnx-int4-gptq"))
        assert gptq_bytes * 2 < model_bytes(variant_dir(built, "tiny-llama", "onnx-fp32"))


# The peak is read from VmHWM, this process's own high-water mark: ru_maxrss carries the parent's across exec.
QUANTIZE_AND_REPORT_PEAK = """
import logging, sys
from pathlib import Path
from pipeline.formats.onnx.blockwise import quantize_blockwise
def peak():
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024
logging.disable(logging.INFO)
import onnx, onnxruntime.quantization.matmul_nbits_quantizer
before = peak()
quantize_blockwise(Path(sys.argv[1]), Path(sys.argv[2]), 4, 32, True, 4, False, True)
print(peak() - before)
"""


def test_blockwise_quantization_holds_one_weight_not_the_model(tmp_path):
    """A chain of 24 float32 MatMul weights (384 MiB of external data) quantized to 4-bit blocks in a process of
    its own: its peak memory grows by well under half the weights. Quantizing in the model's own graph kept every
    weight read in protobuf's arena: 1.22x the weights here, about 35 GiB projected at 7B."""
    import subprocess
    import sys

    from onnx import TensorProto, helper, numpy_helper

    count, side = 24, 2048
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal((side, side), dtype=np.float32), f"w{i}")
               for i in range(count)]
    nodes = [helper.make_node("MatMul", [f"y{i - 1}" if i else "x", f"w{i}"], [f"y{i}"], name=f"mm{i}")
             for i in range(count)]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, side])],
                              [helper.make_tensor_value_info(f"y{count - 1}", TensorProto.FLOAT, [1, side])], weights)
    base, out = tmp_path / "base", tmp_path / "int4"
    base.mkdir(), out.mkdir()
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), base / MODEL_FILE,
                    save_as_external_data=True, all_tensors_to_one_file=True, location=DATA_FILE, size_threshold=0)
    del weights, graph
    total = (base / DATA_FILE).stat().st_size
    assert total == count * side * side * 4
    result = subprocess.run([sys.executable, "-c", QUANTIZE_AND_REPORT_PEAK, str(base), str(out)],
                            capture_output=True, text=True, check=True)
    growth = int(result.stdout.split()[-1])
    assert growth < 0.5 * total, f"quantizing grew the process by {growth / total:.2f}x the weights"
    # and it made the 4-bit blocks: 32 weights in 16 bytes plus a float32 scale each
    assert (out / DATA_FILE).stat().st_size == count * side * side // 32 * (16 + 4)
