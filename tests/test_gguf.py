"""Calibrated GGUF: the importance matrix, per-tensor types and split shards, on the shipped examples."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from pipeline.fileio import sha256_file
from pipeline.formats.gguf.files import gguf_files
from pipeline.formats.gguf.format import BASE_FILE
from pipeline.formats.gguf.inspect import describe_gguf
from pipeline.formats.gguf.quantize import quantize_gguf
from pipeline.layout import Layout
from pipeline.toolchain import llama_tool
from tests.project import SHIPPED, dvc, edited_params, ran_stages


def manifest(built: Path, model: str, variant: str) -> dict:
    return json.loads((built / "manifests" / model / f"{variant}.json").read_text())


def test_imatrix_variant_ships_its_matrix_and_a_command_that_rebuilds_it(built, tmp_path):
    layout = Layout(built)
    record = manifest(built, "tiny-llama", "Q4_K_M-imatrix")
    stage_record = json.loads((layout.imatrix("tiny-llama") / "imatrix.json").read_text())
    assert stage_record["computed"] and stage_record["dataset"]["file"].endswith("train.parquet")
    shipped = {f["path"]: f for f in record["files"]}
    assert shipped["imatrix/imatrix.gguf"]["role"] == "imatrix"
    assert shipped["imatrix/imatrix.gguf"]["sha256"] == stage_record["sha256"]
    # llama-quantize's own metadata, as it wrote it into the quant.
    spec = SHIPPED.variant("Q4_K_M-imatrix").format_settings.imatrix
    assert record["gguf"]["imatrix"] == {"file": "imatrix/imatrix.gguf", "dataset": "train.txt",
                                         "chunks_count": spec.chunks, "entries_count": 28}  # 4 layers x 7 matrices
    assert manifest(built, "tiny-llama", "Q4_K_M")["gguf"]["imatrix"] is None

    # The recorded command, run beside the base and the package's matrix, makes the same bytes.
    (tmp_path / "imatrix").mkdir()
    os.link(layout.artifact("tiny-llama", "Q4_K_M-imatrix") / "imatrix/imatrix.gguf", tmp_path / "imatrix/imatrix.gguf")
    os.link(layout.base("tiny-llama", "gguf") / BASE_FILE, tmp_path / BASE_FILE)
    program, *arguments = shlex.split(record["quantization"]["command"])
    subprocess.run([str(llama_tool(program)), *arguments], cwd=tmp_path, check=True, capture_output=True)
    gguf = shipped["tiny-llama-Q4_K_M-imatrix.gguf"]
    assert sha256_file(tmp_path / "tiny-llama-Q4_K_M-imatrix.gguf") == gguf["sha256"]
    assert gguf["sha256"] != manifest(built, "tiny-llama", "Q4_K_M")["files"][0]["sha256"], "the matrix changed it"


def test_an_encoder_has_no_imatrix_and_says_so(built):
    plain, asked = (manifest(built, "all-minilm-l6-v2", v) for v in ("Q4_K_M", "Q4_K_M-imatrix"))
    assert not (Layout(built).imatrix("all-minilm-l6-v2") / "imatrix.gguf").exists()
    assert asked["quantization"]["imatrix"] is False
    assert "causal language models" in asked["quantization"]["imatrix_note"]
    assert [f["path"] for f in asked["files"]] == ["all-minilm-l6-v2-Q4_K_M-imatrix.gguf"]
    assert asked["files"][0]["sha256"] == plain["files"][0]["sha256"]


def test_tensor_type_overrides_reach_the_named_tensors(built, tmp_path):
    base = Layout(built).base("tiny-llama", "gguf") / BASE_FILE
    out = tmp_path / "out.gguf"
    quantize_gguf(base, "F16", "Q4_0", None, {r"ffn_down": "q8_0", r"output\.weight": "q6_k"}, out, out, 2)
    from gguf import GGUFReader

    types = {t.name: t.tensor_type.name for t in GGUFReader(out).tensors}
    assert {types[f"blk.{i}.ffn_down.weight"] for i in range(4)} == {"Q8_0"}
    assert types["output.weight"] == "Q6_K"
    assert {types[f"blk.{i}.ffn_up.weight"] for i in range(4)} == {"Q4_0"}


def test_a_variant_over_the_shard_size_is_released_as_split_shards(built):
    whole = manifest(built, "tiny-llama", "Q8_0")

    def small_shards(params):
        params["gguf"]["max_shard_mb"] = 2

    with edited_params(built, small_shards):
        result = dvc("repro", "release@tiny-llama-Q8_0", cwd=built)
        assert ran_stages(result.stdout) == {f"{s}@tiny-llama-Q8_0" for s in ("quantize_gguf", "evaluate", "release")}
        record = json.loads(Layout(built).release_record("tiny-llama", "Q8_0").read_text())  # what release wrote
        shards = gguf_files(Layout(built).artifact("tiny-llama", "Q8_0"))
        count = len(shards)
        assert count >= 3  # 5.3 MiB in shards of at most 2 MB
        assert [f["path"] for f in record["files"]] == [f"tiny-llama-Q8_0-{i:05d}-of-{count:05d}.gguf"
                                                        for i in range(1, count + 1)]
        assert all(f["size"] <= 2_000_000 and f["role"] == "weights" for f in record["files"])
        cids = record["content"]["files"]
        # dag-pb (bafy...) for a shard of several blocks, a raw leaf (bafk...) for one that fits in one block
        assert all(cids[f["path"]]["cid_v1"].startswith(("bafy", "bafk")) for f in record["files"]), "CIDs per shard"
        assert record["gguf"]["shards"] == count and record["quantization"]["split"].startswith("llama-gguf-split")
        # The same tensors, loaded by the validators from the shards: the same scores as the single file.
        assert describe_gguf(shards)["tensor_types"] == whole["gguf"]["tensor_types"]
        assert record["accuracy"]["mean_kld"] == pytest.approx(whole["accuracy"]["mean_kld"], rel=1e-6)
        assert record["accuracy"]["perplexity"] == pytest.approx(whole["accuracy"]["perplexity"], rel=1e-6)
