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
from pipeline.workspace import copy_source
from tests.project import (
    BIN,
    GGUF_VARIANTS,
    MODELS,
    RELEASES,
    SHIPPED,
    VARIANTS,
    build,
    dvc,
    edited_params,
    lock_differences,
    measured_here,
    modelprep,
    ran_stages,
    run,
    signing_key,
)


def gguf(project: Path, model: str, variant: str) -> Path:
    return Layout(project).artifact(model, variant) / f"{model}-{variant}.gguf"


def metrics(project: Path, model: str, variant: str) -> dict:
    return json.loads(Layout(project).metrics(model, variant).read_text())["accuracy"]


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
    measured_here(built, RELEASES[0])  # the table's speed and memory are this host's measured figures
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
    assert files["build/tiny-llama/metrics/Q4_0.json"]["data"]["accuracy"]["mean_kld"] > 0
    points = json.loads(Layout(built).plot("tiny-llama").read_text())
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
        assert not Layout(built).release_record("tiny-llama", "Q8_0").exists()
        collected = modelprep("collect", cwd=built).stdout
        assert "manifests/tiny-llama/Q8_0.json: not released" in collected
        assert not (built / "manifests/tiny-llama/Q8_0.json").exists()
        report = run([str(BIN / "modelprep"), "report"], cwd=built, check=False)
        assert report.returncode == 1 and "FAIL" in report.stdout
        # make release goes on to sign and index after missed gates, and stops after anything else
        assert run([str(BIN / "modelprep"), "check-build"], cwd=built, check=False).returncode == 0
        metrics_file = Layout(built).metrics("tiny-llama", "Q4_0")
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
    # Dropped again: make release's sweep removes its outputs, so the plot no longer shows it.
    assert not Layout(built).metrics("tiny-llama", "Q5_0").exists()
    assert not Layout(built).artifact("tiny-llama", "Q5_0").exists()
    assert "Q5_0" not in Layout(built).plot("tiny-llama").read_text()


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
    """Everything a rebuild commits is the same bytes: artifacts, manifests, their signatures and
    provenance (same key), dvc.lock, and the plots and metrics DVC caches."""
    second = build(tmp_path_factory.mktemp("build-b"))
    key, _ = signing_key(tmp_path_factory.mktemp("key"))
    layout = Layout(Path("."))
    folders = [layout.artifact(m, v) for m in MODELS for v in VARIANTS]
    folders += [layout.base(m, fmt) for m in MODELS for fmt in ("gguf", "onnx")]
    files = []
    for folder in (f.as_posix() for f in folders):
        listed = sorted(p.relative_to(built).as_posix() for p in (built / folder).rglob("*") if p.is_file())
        assert listed == sorted(p.relative_to(second).as_posix() for p in (second / folder).rglob("*") if p.is_file())
        files += listed
    files += ["build/examples/tiny-llama/model.safetensors", "dvc.lock"]
    files += [layout.plot(m).as_posix() for m in MODELS]
    files += [layout.metrics(m, v).as_posix() for m in MODELS for v in VARIANTS]
    for project in (built, second):
        manifests = [str(project / f"manifests/{m}/{v}.json") for m in MODELS for v in VARIANTS]
        modelprep("sign", "--key", str(key), *manifests, cwd=project)
    # Each variant's manifest, signature and provenance (measured files are per host and pins per network:
    # other tests add them to the first project; OpenSSF bundles are checked below).
    sidecars = [f"manifests/{m}/{v}{suffix}" for m in MODELS for v in VARIANTS
                for suffix in (".json", ".sig.json", ".provenance.json")]
    assert lock_differences(built, second) == []
    for name in files + sidecars:
        assert sha256_file(built / name) == sha256_file(second / name), f"{name} differs between clean builds"
    # OpenSSF bundles hold randomised ECDSA signatures: not the same bytes, and `sign` keeps one that verifies.
    bundle = "manifests/tiny-llama/Q4_0.sigstore.json"
    assert (built / bundle).read_bytes() != (second / bundle).read_bytes()
    shutil.copy(second / bundle, built / bundle)
    modelprep("sign", "--key", str(key), str(built / "manifests/tiny-llama/Q4_0.json"), cwd=built)
    assert (built / bundle).read_bytes() == (second / bundle).read_bytes()


def test_every_stage_is_restored_from_the_run_cache(built, tmp_path):
    """With the workspace's outputs and dvc.lock gone (a fresh clone sharing the DVC cache), dvc repro runs
    no stage command: each is restored from DVC's run-cache, metrics and plots too, with the same bytes."""
    layout = Layout(built)
    lock = (built / "dvc.lock").read_bytes()
    manifests = {p: p.read_bytes() for p in (built / "manifests").glob("*/*.json")}
    before = tmp_path / "before"
    before.mkdir()
    (before / "dvc.lock").write_bytes(lock)
    shutil.move(built / "build", built / "build.kept")
    (built / "dvc.lock").unlink()
    try:
        result = dvc("repro", cwd=built)
        assert ran_stages(result.stdout) == set()
        restored = re.findall(r"Stage '([^']+)' is cached - skipping run", result.stdout)
        assert len(restored) == len(dvc("stage", "list", "--name-only", cwd=built).stdout.split())
        assert layout.metrics("tiny-llama", "Q4_0").is_file() and layout.plot("all-minilm-l6-v2").is_file()
        modelprep("collect", cwd=built)  # as make release does: dvc.lock as a clean build writes it
        assert (built / "dvc.lock").read_bytes() == lock, lock_differences(before, built)
        assert {p: p.read_bytes() for p in (built / "manifests").glob("*/*.json")} == manifests
    finally:
        if (built / "build.kept").exists():
            shutil.rmtree(built / "build", ignore_errors=True)
            shutil.move(built / "build.kept", built / "build")
            (built / "dvc.lock").write_bytes(lock)


def test_measure_records_speed_and_memory_beside_each_manifest(built):
    """`modelprep measure`: one entry per host in each variant's measured file, the model's share of peak
    memory covering its weights (llama.cpp touches every mmapped page; ONNX Runtime reads every
    initializer); a second run on the same host measures nothing; a rebuilt package drops the entries."""
    for path in (built / "manifests").glob("*/*.measured.json"):
        path.unlink()
    first = modelprep("measure", cwd=built).stdout
    assert f"measured {len(MODELS) * len(VARIANTS)} variants; 0 already measured" in first
    for model in MODELS:
        for variant in VARIANTS:
            manifest = json.loads((built / f"manifests/{model}/{variant}.json").read_text())
            document = json.loads((built / f"manifests/{model}/{variant}.measured.json").read_text())
            assert document["package_cid_v1"] == manifest["content"]["package"]["cid_v1"]
            [entry] = document["measured"]
            figures = entry["performance"]
            weights = sum(f["size"] for f in manifest["files"] if f["path"].endswith((".gguf", ".onnx", ".onnx.data")))
            assert 20 * 2**20 < figures["baseline_rss_bytes"] < figures["peak_rss_bytes"]
            assert figures["peak_rss_bytes"] - figures["baseline_rss_bytes"] >= 0.9 * weights, (model, variant)
            assert entry["memory"]["measured_bytes"] == figures["peak_rss_bytes"] - figures["baseline_rss_bytes"]
            assert entry["settings"]["threads"] == SHIPPED.evaluation.threads
    measured = built / "manifests/tiny-llama/Q4_0.measured.json"
    before = measured.read_bytes()
    again = modelprep("measure", cwd=built).stdout
    assert f"measured 0 variants; {len(MODELS) * len(VARIANTS)} already measured" in again
    assert measured.read_bytes() == before
    # Figures of another package (as after a rebuild with other bytes) describe nothing released.
    document = json.loads(before)
    document["package_cid_v1"] = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
    measured.write_text(json.dumps(document))
    assert "measured 1 variants" in modelprep("measure", cwd=built).stdout
    assert json.loads(measured.read_text())["package_cid_v1"] == json.loads(before)["package_cid_v1"]


def test_a_second_clone_restores_every_stage_from_the_shared_remote(built, tmp_path):
    """`modelprep repro` (make release) with an S3 remote: the first project pushes its outputs and run-cache
    to a real S3 server process; a second clone of the source (no build, no dvc.lock, its own empty cache)
    pulls and runs no stage command, and ends with the same dvc.lock and manifests."""
    import boto3

    from tests.servers.s3 import MotoS3

    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    with MotoS3() as s3:
        env["MODELPREP_S3_ENDPOINT"] = s3.url
        boto3.client("s3", endpoint_url=s3.url, aws_access_key_id="test", aws_secret_access_key="test",
                     region_name="us-east-1").create_bucket(Bucket="builds")
        remote = "s3://builds/modelprep/cache"
        first = modelprep("repro", "--remote", remote, cwd=built, env=env)
        assert ran_stages(first.stdout) == set(), "the built project had nothing to build"
        clone = copy_source(tmp_path / "clone", built)  # the same source, as a clone of the same commit
        second = modelprep("repro", "--remote", remote, cwd=clone, env=env)
        assert ran_stages(second.stdout) == set()
        restored = re.findall(r"Stage '([^']+)' is cached - skipping run", second.stdout)
        assert len(restored) == len(dvc("stage", "list", "--name-only", cwd=clone).stdout.split())
        modelprep("collect", cwd=clone)
        assert (clone / "dvc.lock").read_bytes() == (built / "dvc.lock").read_bytes(), lock_differences(built, clone)
        for release in RELEASES:
            assert (clone / release).read_bytes() == (built / release).read_bytes(), release
        # The remote is this machine's setting: the committed DVC config does not name it.
        assert remote not in (clone / ".dvc/config").read_text()
        assert remote in (clone / ".dvc/config.local").read_text()
