"""ONNX variants: real optimum exports, real ONNX Runtime quantizers and sessions, measured figures."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from pipeline.evaluate import Reference
from pipeline.onnx.export import export_onnx
from pipeline.onnx.files import DATA_FILE, GENAI_CONFIG, MODEL_FILE
from pipeline.onnx.inspect import describe_onnx
from pipeline.onnx.quantize import model_bytes, quantize_onnx
from pipeline.params import load_params
from pipeline.runtimes.onnxruntime import OnnxRuntime
from tests.project import dvc, edited_params, ran_stages

MODELS = ("tiny-llama", "all-minilm-l6-v2")


def variant_dir(built, model, variant):
    return built / "build" / model / "onnx" / variant


def metrics(built, model, variant):
    return json.loads((built / "metrics" / model / f"{variant}.json").read_text())["accuracy"]


def prompt_tokens(built, count=16):
    return Reference.load(built / "build/tiny-llama/reference").inputs[0][:count]


def test_int8_and_int4_load_and_decode(built):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(variant_dir(built, "tiny-llama", "onnx-fp32"))
    prompt = tokenizer.encode("The import statement")
    for variant in ("onnx-int8", "onnx-int4"):
        runtime = OnnxRuntime(variant_dir(built, "tiny-llama", variant), "decoder", "cpu", 2, False)
        tokens = list(runtime.generate(np.array(prompt), 24))
        assert len(tokens) == 24 and all(0 <= t < tokenizer.vocab_size for t in tokens)
        assert tokenizer.decode(tokens).strip(), "greedy decoding produces text"
        assert runtime.info()["providers"] == ["CPUExecutionProvider"]
        runtime.close()
        encoder = OnnxRuntime(variant_dir(built, "all-minilm-l6-v2", variant), "encoder", "cpu", 2, False)
        vectors = encoder.embed(["A sentence to embed.", "Another, longer sentence to embed in the same batch."])
        assert vectors.shape == (2, 384) and np.isfinite(vectors).all() and (np.linalg.norm(vectors, axis=1) > 0).all()


def test_cached_decoding_gives_the_full_sequence_logits(built):
    # Scoring runs half a window as prefill, then one token at a time through past key/values; one
    # full-sequence call of the same graph must give the same logits.
    runtime = OnnxRuntime(variant_dir(built, "tiny-llama", "onnx-fp32"), "decoder", "cpu", 2, False)
    window = Reference.load(built / "build/tiny-llama/reference").inputs[0]
    stepwise = runtime.next_token_logits(window)
    full, _ = runtime._step(window, runtime.io.empty_past(), 0)
    assert stepwise.shape == full.shape == (len(window), 4096)
    np.testing.assert_allclose(stepwise, full, atol=2e-4)


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
        ours = OnnxRuntime(folder, "decoder", "cpu", 2, False)
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
    spec = dataclasses.replace(load_params(built / "params.yaml").onnx, external_data_min_mib=1)
    quantize_onnx(tmp_path / "base", "onnx-int4", spec, built / "build/corpus", tmp_path / "int4")
    assert describe_onnx(tmp_path / "int4")["external_data"]
    window = Reference.load(built / "build/tiny-llama/reference").inputs[0]
    for ours, shipped in ((tmp_path / "base", "onnx-fp32"), (tmp_path / "int4", "onnx-int4")):
        external = OnnxRuntime(ours, "decoder", "cpu", 2, False).next_token_logits(window)
        inline = OnnxRuntime(variant_dir(built, "tiny-llama", shipped), "decoder", "cpu", 2, False)
        np.testing.assert_array_equal(external, inline.next_token_logits(window))


def test_gptq_variant_builds_and_validates_on_the_cpu(built):
    def enable_gptq(params):
        params["onnx"]["variants"].append("onnx-int4-gptq")

    stages = {f"{s}_onnx@tiny-llama-onnx-int4-gptq" for s in ("quantize", "evaluate", "release")}
    with edited_params(built, enable_gptq):
        result = dvc("repro", "release_onnx@tiny-llama-onnx-int4-gptq", cwd=built)
        assert ran_stages(result.stdout) == stages
        record = json.loads((built / "manifests/tiny-llama/onnx-int4-gptq.json").read_text())
        assert record["quantization"]["method"] == "weight-only GPTQ"
        assert record["onnx"]["operators"]["MatMulNBits"] > 0
        gptq, fp32 = record["accuracy"], metrics(built, "tiny-llama", "onnx-fp32")
        assert fp32["mean_kld"] < gptq["mean_kld"] <= record["accuracy"]["gate"]["max_mean_kld"]
        gptq_bytes = model_bytes(variant_dir(built, "tiny-llama", "onnx-int4-gptq"))
        assert gptq_bytes * 2 < model_bytes(variant_dir(built, "tiny-llama", "onnx-fp32"))
