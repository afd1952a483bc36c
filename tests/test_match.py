"""`modelprep match` and `modelprep export akash` on the real release manifests."""

from __future__ import annotations

import json

import yaml

from pipeline.hardware.gpus import gpu_table
from tests.project import BIN, GGUF_VARIANTS, RELEASES, run


def manifests(built):
    return {release: json.loads((built / release).read_text()) for release in RELEASES}


def matched(built, *args, check=True):
    result = run([str(BIN / "modelprep"), "match", *args, "--manifests", str(built / "manifests")], cwd=built,
                 check=check)
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    return result, [(row[0], row[1]) for row in rows]


def longest(manifest, parallel=1):
    return max((p for p in manifest["memory"]["profiles"] if p["parallel"] == parallel), key=lambda p: p["context"])


def test_a_big_gpu_runs_everything_best_first(built):
    result, rows = matched(built, "--gpu", "RTX 4090", "--cuda", "12.4")
    assert result.stdout.startswith("node: RTX 4090 (24.0 GiB, compute capability 8.9, CUDA 12.4)")
    released = manifests(built)
    assert sorted(rows) == sorted((m["model"], m["variant"]) for m in released.values())
    for model, metric, better in (("tiny-llama", "mean_kld", 1), ("all-minilm-l6-v2", "mean_cosine", -1)):
        order = [variant for name, variant in rows if name == model]
        figures = [better * released[f"manifests/{model}/{v}.json"]["accuracy"][metric] for v in order]
        assert figures == sorted(figures), (model, order)


def test_vram_cuda_context_and_runtime_narrow_the_list(built):
    needs = {(m["model"], m["variant"]): longest(m)["vram_bytes"] for m in manifests(built).values()}
    cut = sorted(needs.values())[len(needs) // 2]
    _, rows = matched(built, "--vram", f"{cut}B")
    assert sorted(rows) == sorted(key for key, need in needs.items() if need <= cut)
    result, rows = matched(built, "--vram", f"{min(needs.values()) - 1}B", check=False)
    assert result.returncode == 1 and rows == [] and "no released variant fits this node" in result.stderr
    # Every runtime's CUDA builds need CUDA 12 or newer.
    assert matched(built, "--gpu", "A100 80GB", "--cuda", "11.8", check=False)[0].returncode == 1
    # Compute capability 6.1 rules out llama.cpp's CUDA 13 build (7.5 and up) but not its CUDA 12 build.
    _, rows = matched(built, "--gpu", "GTX 1080 Ti", "--cuda", "13.0", "--runtime", "llama.cpp")
    assert {variant for _, variant in rows} == set(GGUF_VARIANTS)
    _, rows = matched(built, "--gpu", "H100", "--runtime", "onnxruntime-genai")
    assert sorted(rows) == [("tiny-llama", v) for v in ("onnx-fp32", "onnx-int4", "onnx-int8")]
    # No example model was trained for 100000 tokens.
    assert matched(built, "--gpu", "H200", "--ctx", "100000", check=False)[0].returncode == 1


def test_unknown_gpu_is_one_clear_error(built):
    result, _ = matched(built, "--gpu", "Voodoo 2", check=False)
    assert result.returncode == 1
    assert "GPU 'Voodoo 2' is not in the table: GeForce GTX 1080 Ti" in result.stderr


def test_akash_profile_lists_the_gpus_that_fit(built, tmp_path):
    release = "manifests/all-minilm-l6-v2/onnx-fp32.json"
    manifest = json.loads((built / release).read_text())
    out = tmp_path / "deploy.yaml"
    run([str(BIN / "modelprep"), "export", "akash", release, "--parallel", "4", "--out", str(out)], cwd=built)
    sdl = yaml.safe_load(out.read_text())
    assert sdl["version"] == "2.0" and list(sdl["profiles"]) == ["compute"]
    (name, profile), = sdl["profiles"]["compute"].items()
    assert name == "all-minilm-l6-v2-onnx-fp32"
    resources = profile["resources"]
    assert set(resources) == {"cpu", "memory", "storage", "gpu"} and resources["cpu"] == {"units": 4}
    chosen = longest(manifest, parallel=4)
    assert int(resources["memory"]["size"].removesuffix("Mi")) * 2 ** 20 >= chosen["ram_bytes"]
    assert int(resources["storage"][0]["size"].removesuffix("Gi")) * 2 ** 30 >= 2 * manifest["memory"]["disk_bytes"]
    gpu = resources["gpu"]
    assert gpu["units"] == 1 and list(gpu["attributes"]["vendor"]) == ["nvidia"]
    fit = next(f["gpus"] for f in manifest["gpu_fit"] if (f["context"], f["parallel"]) == (chosen["context"], 4))
    table = {g.name: g for g in gpu_table()}
    assert sorted((e["model"], e["ram"]) for e in gpu["attributes"]["vendor"]["nvidia"]) == \
        sorted({(table[n].akash, f"{table[n].memory_gb}Gi") for n in fit})


def test_bad_requests_are_one_clear_error(built, tmp_path):
    modelprep = str(BIN / "modelprep")
    result = run([modelprep, "match", "--gpu", "T4", "--cuda", "v12"], cwd=built, check=False)
    assert result.returncode == 2 and "'v12' is not a CUDA version such as 12 or 12.4" in result.stderr
    release = "manifests/tiny-llama/Q8_0.json"
    result = run([modelprep, "export", "akash", release, "--parallel", "3"], cwd=built, check=False)
    assert result.returncode == 1
    assert f"{release}: no memory profile holds any tokens x 3 sequence(s); it has (context, parallel) " \
           "[(128, 1), (128, 4)]" in result.stderr
    old = json.loads((built / release).read_text())
    old["record_version"] = 5
    for key in ("memory", "gpu_fit", "identity", "runtimes"):
        old.pop(key)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    result = run([modelprep, "export", "akash", str(path)], cwd=built, check=False)
    assert result.returncode == 1 and "old.json: record_version 5 has no memory profiles" in result.stderr
    # A registry folder with only an old manifest: nothing to match on, said plainly.
    (tmp_path / "reg" / "tiny-llama").mkdir(parents=True)
    (tmp_path / "reg" / "tiny-llama" / "Q8_0.json").write_text(json.dumps(old))
    result = run([modelprep, "match", "--gpu", "H100", "--manifests", str(tmp_path / "reg")], cwd=built, check=False)
    assert result.returncode == 1 and "no released variant fits this node" in result.stderr
