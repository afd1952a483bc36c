"""The real pipeline on the shipped examples: every stage runs, for real, in a scratch copy."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.fileio import dumps_json, sha256_file
from pipeline.layout import Layout
from pipeline.manifest.document import MEASURED
from tests.project import BIN, GGUF_VARIANTS, MODELS, SHIPPED, VARIANTS, build, dvc, edited_params, ran_stages, run


def gguf(project: Path, model: str, variant: str) -> Path:
    return Layout(project).artifact(model, variant) / f"{model}-{variant}.gguf"


def metrics(project: Path, model: str, variant: str) -> dict:
    return json.loads((project / "metrics" / model / f"{variant}.json").read_text())["accuracy"]


def test_every_variant_is_released_with_a_true_record(built):
    for model in MODELS:
        for variant in VARIANTS:
            manifest = built / "manifests" / model / f"{variant}.json"
            text = manifest.read_text()
            record = json.loads(text)
            assert text == dumps_json(record), "records are written with sorted keys and fixed formatting"
            artifact = built / record["artifact"]
            assert artifact == Layout(built).artifact(model, variant)
            for entry in record["files"]:
                local = artifact / entry["path"]
                assert sha256_file(local) == entry["sha256"] and local.stat().st_size == entry["size"]
            listed = {f["path"] for f in record["files"]}
            assert listed == {p.relative_to(artifact).as_posix() for p in artifact.rglob("*") if p.is_file()}
            if record["format"] == "onnx":
                assert record["onnx"]["opset"] == 21
                candidate = record["device"]["candidate"]
                provider = "CUDAExecutionProvider" if candidate["device"].startswith("cuda:") else "CPUExecutionProvider"
                assert candidate["providers"][0] == provider, "the record names the provider that really ran"
                assert record["quantization"]["type"] == variant
            else:
                # The importance matrix a variant was quantized with ships beside it (decoders only).
                imatrix = ["imatrix/imatrix.gguf"] if record["quantization"]["imatrix"] else []
                assert [f["path"] for f in record["files"]] == [*imatrix, f"{model}-{variant}.gguf"]
                assert record["quantization"]["imatrix"] == (SHIPPED.variant(variant).settings.imatrix
                                                             and model == "tiny-llama")
                assert record["quantization"]["type"] == SHIPPED.variant(variant).settings.type
            assert record["tools"]["llama.cpp"] == "0c1e57098"
            assert record["accuracy"]["passed"] is True
            assert record["device"]["candidate"]["device"].startswith(("cpu:", "cuda:"))
            sources = {f["path"]: f["sha256"] for f in record["source"]["files"]}
            assert sha256_file(built / "build" / model / "hf" / "config.json") == sources["config.json"]
            assert record["evaluation"]["corpus"]["sha256"] == sha256_file(built / "build/corpus/eval.parquet")
            assert not re.search(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d", text), "records hold no timestamps"


def test_release_table_lists_every_variant(built):
    result = run([str(BIN / "modelprep"), "report"], cwd=built)
    rows = [line for line in result.stdout.splitlines() if line.startswith(MODELS)]
    assert len(rows) == len(MODELS) * len(VARIANTS)
    assert all(" PASS " in row for row in rows)
    assert "build/tiny-llama/variants/Q4_K_M" in result.stdout
    assert "build/all-minilm-l6-v2/variants/onnx-int4" in result.stdout
    decoder_int8 = next(r for r in rows if r.startswith("tiny-llama ") and " onnx-int8 " in r)
    assert re.search(r"\d+ tok/s, first token \d+\.\d+ ms \((cpu|cuda)\)", decoder_int8), "speed on the device"


def test_every_variant_loads_in_llama_cpp_and_generates(built):
    import llama_cpp

    for variant in GGUF_VARIANTS:
        llm = llama_cpp.Llama(str(gguf(built, "tiny-llama", variant)), n_ctx=128,
                              n_threads=2, verbose=False)
        out = llm.create_completion("The import statement", max_tokens=12, temperature=0.0)
        assert out["usage"]["completion_tokens"] > 0 and out["choices"][0]["text"].strip()
        llm.close()
        encoder = llama_cpp.Llama(str(gguf(built, "all-minilm-l6-v2", variant)),
                                  embedding=True, n_threads=2, verbose=False)
        vector = np.array(encoder.embed("A sentence to embed."))
        assert vector.shape == (384,) and np.isfinite(vector).all() and np.linalg.norm(vector) > 0
        encoder.close()


def test_quantization_error_grows_as_bits_shrink(built):
    f16, q8, q4 = (metrics(built, "tiny-llama", v) for v in ("F16", "Q8_0", "Q4_0"))
    assert f16["mean_kld"] < 1e-5 and f16["same_top1"] > 0.99, "conversion alone should cost almost nothing"
    assert q8["mean_kld"] * 10 < q4["mean_kld"], "Q8_0 must be far closer to the reference than Q4_0"
    assert q8["same_top1"] > q4["same_top1"]
    assert q4["scored_tokens"] >= 4096
    enc = {v: metrics(built, "all-minilm-l6-v2", v) for v in GGUF_VARIANTS}
    assert enc["F16"]["min_cosine"] > 0.9999
    assert enc["F16"]["mean_cosine"] > enc["Q8_0"]["mean_cosine"] > enc["Q4_0"]["mean_cosine"]
    assert enc["Q4_0"]["sentences"] >= 256


def test_generated_decoder_learned_its_text(built):
    config = json.loads((built / "build/tiny-llama/hf/config.json").read_text())
    assert config["num_key_value_heads"] < config["num_attention_heads"]
    reference_ppl = metrics(built, "tiny-llama", "F16")["reference_perplexity"]
    # An untrained model scores about the vocabulary size (4096); training must cut that several times.
    assert reference_ppl < config["vocab_size"] / 3


def test_metrics_and_plots_are_dvc_metrics(built):
    shown = json.loads(dvc("metrics", "show", "--json", cwd=built).stdout)
    files = next(iter(shown.values()))["data"]
    assert files["metrics/tiny-llama/Q4_0.json"]["data"]["accuracy"]["mean_kld"] > 0
    points = json.loads((built / "plots/tiny-llama.json").read_text())
    assert [p["variant"] for p in points] == list(VARIANTS)
    assert points[0]["size_mib"] > points[1]["size_mib"] > points[2]["size_mib"]


def test_rerun_with_nothing_changed_does_no_work(built):
    result = dvc("repro", cwd=built)
    assert ran_stages(result.stdout) == set()
    assert "up to date" in dvc("status", cwd=built).stdout


def test_changing_one_gate_reruns_only_its_releases(built):
    def loosen(params):
        params["gates"]["Q4_K_M"]["max_mean_kld"] = 0.2

    with edited_params(built, loosen):
        result = dvc("repro", cwd=built)
        assert ran_stages(result.stdout) == {"release@tiny-llama-Q4_K_M", "release@all-minilm-l6-v2-Q4_K_M"}


def test_a_missed_gate_fails_its_stage_and_releases_nothing(built):
    def impossible(params):
        params["gates"]["Q8_0"]["max_mean_kld"] = 1e-9

    measured = metrics(built, "tiny-llama", "Q8_0")["mean_kld"]
    with edited_params(built, impossible):
        result = dvc("repro", "--keep-going", cwd=built, check=False)  # as make release runs it
        assert result.returncode != 0
        assert f"mean KL divergence {measured:g} FAILS the gate (at most 1e-09, max_mean_kld)" in result.stderr
        assert not (built / "manifests/tiny-llama/Q8_0.json").exists()
        report = run([str(BIN / "modelprep"), "report"], cwd=built, check=False)
        assert report.returncode == 1 and "FAIL" in report.stdout
        # make release goes on to sign and index after missed gates, and stops after anything else
        assert run([str(BIN / "modelprep"), "check-build"], cwd=built, check=False).returncode == 0
        metrics_file = built / "metrics/tiny-llama/Q4_0.json"
        metrics_file.rename(metrics_file.with_suffix(".kept"))  # as an evaluate stage that failed leaves it
        try:
            check = run([str(BIN / "modelprep"), "check-build"], cwd=built, check=False)
        finally:
            metrics_file.with_suffix(".kept").rename(metrics_file)
        assert check.returncode == 1 and "Traceback" not in check.stderr
        error = check.stderr.strip().splitlines()[-1]
        assert error.startswith("modelprep: error: dvc.lock: dvc repro left ")
        assert "evaluate@tiny-llama-Q4_0" in error and "release@tiny-llama-Q8_0" not in error
    assert (built / "manifests/tiny-llama/Q8_0.json").exists()


def test_adding_a_type_builds_only_that_variant(built):
    def add_q5(params):
        params["gguf"]["variants"]["Q5_0"] = {}
        params["gates"]["Q5_0"] = {"max_mean_kld": 0.05, "min_mean_cosine": 0.98}

    with edited_params(built, add_q5):
        result = dvc("repro", cwd=built)
        expected = {f"{stage}@{model}-Q5_0" for stage in ("quantize_gguf", "evaluate", "release") for model in MODELS}
        # plan reruns with any variant change; its bytes do not change, so no base or imatrix does
        assert ran_stages(result.stdout) == expected | {f"plot@{m}" for m in MODELS} | {"plan"}
        q5 = metrics(built, "tiny-llama", "Q5_0")["mean_kld"]
        assert metrics(built, "tiny-llama", "Q8_0")["mean_kld"] < q5 < metrics(built, "tiny-llama", "Q4_0")["mean_kld"]


def test_killed_stage_leaves_nothing_and_reruns_cleanly(built):
    layout = Layout(built)
    out = layout.base("all-minilm-l6-v2", "gguf")
    built_file = out / "base.gguf"
    before = sha256_file(built_file)
    out.rename(out.with_name("kept"))  # the stage's output, out of the way while the stage runs again
    cmd = [sys.executable, "stages/base.py", "--model", "all-minilm-l6-v2", "--format", "gguf"]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    try:
        proc = subprocess.Popen(cmd, cwd=built, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.monotonic() + 120
        while not any(p.stat().st_size > 0 for p in out.parent.glob(".gguf.tmp-*/base.gguf")):
            assert proc.poll() is None and time.monotonic() < deadline, "the converter never started writing"
            time.sleep(0.01)  # writing the 44 MiB file takes a few hundred milliseconds
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not out.exists(), "a killed stage must not leave a partial output in place"
        run(cmd, cwd=built)
        assert sha256_file(built_file) == before
        assert sorted(p.name for p in out.parent.iterdir()) == ["gguf", "kept", "onnx"], \
            "the killed run's temporary folder is cleaned up"
    finally:
        if out.with_name("kept").exists():
            shutil.rmtree(out)
            out.with_name("kept").rename(out)


def test_two_clean_builds_give_identical_bytes(built, tmp_path_factory):
    second = build(tmp_path_factory.mktemp("build-b"))
    layout = Layout(Path("."))
    folders = [layout.artifact(m, v) for m in MODELS for v in VARIANTS]
    folders += [layout.base(m, fmt) for m in MODELS for fmt in ("gguf", "onnx")]
    artifacts = []
    for folder in (f.as_posix() for f in folders):
        files = sorted(p.relative_to(built).as_posix() for p in (built / folder).rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(second).as_posix() for p in (second / folder).rglob("*") if p.is_file())
        artifacts += files
    artifacts.append("build/examples/tiny-llama/model.safetensors")
    for name in artifacts:
        assert sha256_file(built / name) == sha256_file(second / name), f"{name} differs between clean builds"
    for name in (f"manifests/{m}/{v}.json" for m in MODELS for v in VARIANTS):
        # Everything but what was measured on the device (timings, peak memory), probes included.
        first, again = (json.loads((root / name).read_text()) for root in (built, second))
        assert set(first.pop(MEASURED)) == set(again.pop(MEASURED))
        assert first == again, f"{name} differs between clean builds"


def test_memory_is_measured_as_the_model_takes_it(built):
    """Peak memory of the measuring process, and its memory with the runtime loaded but not the model:
    the model's share covers at least its weights (llama.cpp touches every mmapped page; ONNX Runtime
    reads every initializer)."""
    for model in MODELS:
        for variant in VARIANTS:
            figures = json.loads((built / f"build/{model}/performance/{variant}.json").read_text())
            record = json.loads((built / f"manifests/{model}/{variant}.json").read_text())
            weights = sum(f["size"] for f in record["files"] if f["path"].endswith((".gguf", ".onnx", ".onnx.data")))
            assert 20 * 2**20 < figures["baseline_rss_bytes"] < figures["peak_rss_bytes"]
            assert figures["peak_rss_bytes"] - figures["baseline_rss_bytes"] >= 0.9 * weights, (model, variant)
