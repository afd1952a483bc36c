"""Models in the exact shapes people ship (TinyLlama-1.1B, Mistral-7B), with random weights, for the
scale benchmarks: the pipeline's memory and time on real sizes, never its accuracy.

Weights are bf16, drawn from a seeded generator tensor by tensor and written straight into sharded
safetensors files, so making a 7B model holds one tensor at a time, and the same seed gives the same
bytes. Linear layers are N(0, 0.02) as Llama initialises them, but the two that write into the residual
stream (o_proj, down_proj) are N(0, 0.02 / sqrt(2 x layers)), GPT-2's scaled initialisation, and the
embeddings N(0, 1): each layer then adds a small update to the token's embedding, as a trained model's
layers do. Plain N(0, 0.02) everywhere is chaotic at depth: 4-bit rounding alone changed the next token
(mean KLD 2-3.5 at 1.1B; 0.32 vs 0.0003 for this scheme in a 22-layer, 512-wide check of 4-bit block
rounding). The output head is N(0, 0.1), so next-token distributions are peaked enough for top-1
agreement to mean something (with 0.02 they are nearly uniform). The tokenizer is a SentencePiece
model of `tokenizer_pieces` pieces trained on the corpus's training split; the configs keep their
32000-entry vocabularies, as the converter pads a smaller tokenizer to the model's size. Random weights
know no language: their held-out perplexity is near the vocabulary size; what the gates see is how far
quantization moves them.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.corpus import TRAIN_FILE, read_texts
from pipeline.examples.tokenizer import train_sentencepiece
from pipeline.fileio import atomic_path, write_json
from pipeline.progress import ByteProgress, log

STAGE = "shaped_model"
SHARD_BYTES = 4 * 2 ** 30  # safetensors shards of at most this, as Hugging Face's save_pretrained splits


@dataclass(frozen=True)
class Shape:
    architecture: str  # transformers class
    model_type: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    vocabulary: int
    context: int
    sliding_window: int | None = None
    tokenizer_pieces: int = 8000

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads

    def tensors(self) -> list[tuple[str, tuple[int, ...], float]]:
        """(name, shape, standard deviation; 0 for norms, which are ones) in checkpoint order."""
        h, kv = self.hidden, self.kv_heads * self.head_size
        residual = 0.02 / math.sqrt(2 * self.layers)
        out = [("model.embed_tokens.weight", (self.vocabulary, h), 1.0)]
        for i in range(self.layers):
            p = f"model.layers.{i}."
            out += [(p + "input_layernorm.weight", (h,), 0.0),
                    (p + "self_attn.q_proj.weight", (h, h), 0.02), (p + "self_attn.k_proj.weight", (kv, h), 0.02),
                    (p + "self_attn.v_proj.weight", (kv, h), 0.02), (p + "self_attn.o_proj.weight", (h, h), residual),
                    (p + "post_attention_layernorm.weight", (h,), 0.0),
                    (p + "mlp.gate_proj.weight", (self.ffn, h), 0.02), (p + "mlp.up_proj.weight", (self.ffn, h), 0.02),
                    (p + "mlp.down_proj.weight", (h, self.ffn), residual)]
        return out + [("model.norm.weight", (h,), 0.0), ("lm_head.weight", (self.vocabulary, h), 0.1)]

    def config(self, bos: int, eos: int) -> dict[str, Any]:
        return {"architectures": [self.architecture], "model_type": self.model_type, "hidden_size": self.hidden,
                "intermediate_size": self.ffn, "num_hidden_layers": self.layers,
                "num_attention_heads": self.heads, "num_key_value_heads": self.kv_heads, "head_dim": self.head_size,
                "vocab_size": self.vocabulary, "max_position_embeddings": self.context,
                "sliding_window": self.sliding_window, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                "hidden_act": "silu", "tie_word_embeddings": False, "torch_dtype": "bfloat16",
                "bos_token_id": bos, "eos_token_id": eos, "attention_bias": False}


SHAPES = {
    # TinyLlama/TinyLlama-1.1B-Chat-v1.0's config.
    "tinyllama-1_1b": Shape("LlamaForCausalLM", "llama", 2048, 22, 32, 4, 5632, 32000, 2048),
    # mistralai/Mistral-7B-v0.1's config (llama.cpp converts it as `llama`, without the window).
    "mistral-7b": Shape("MistralForCausalLM", "mistral", 4096, 32, 32, 8, 14336, 32000, 32768, sliding_window=4096),
}


def _bf16(values: np.ndarray) -> bytes:
    """float32 -> bfloat16 bytes, rounding to nearest even, as torch does."""
    bits = values.astype(np.float32).view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("<u2").tobytes()


def _tensor(name: str, shape: tuple[int, ...], std: float, seed: int) -> bytes:
    if std == 0.0:
        return _bf16(np.ones(shape, dtype=np.float32))
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    rng = np.random.Generator(np.random.PCG64(int.from_bytes(digest[:8], "little")))
    return _bf16(rng.standard_normal(shape, dtype=np.float32) * std)


def _shards(tensors: list[tuple[str, tuple[int, ...], float]]) -> list[list[tuple[str, tuple[int, ...], float]]]:
    shards, current, size = [], [], 0
    for entry in tensors:
        nbytes = 2 * int(np.prod(entry[1]))
        if current and size + nbytes > SHARD_BYTES:
            shards.append(current)
            current, size = [], 0
        current.append(entry)
        size += nbytes
    return shards + [current]


def _write_shard(path: Path, entries: list[tuple[str, tuple[int, ...], float]], seed: int,
                 progress: ByteProgress) -> None:
    """A safetensors file whose header is known before any tensor is drawn, then each tensor in turn."""
    header, offset = {}, 0
    for name, shape, _ in entries:
        nbytes = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded)
        for name, shape, std in entries:
            data = _tensor(name, shape, std, seed)
            handle.write(data)
            progress.advance(len(data))


def build_shaped_model(name: str, corpus_dir: Path, out_dir: Path, seed: int = 1234) -> Path:
    """Write the model of shape `name` into `out_dir` (a Hugging Face folder); nothing is done if it exists."""
    shape = SHAPES[name]
    if (out_dir / "config.json").is_file():
        return out_dir
    tensors = shape.tensors()
    total = sum(2 * int(np.prod(s)) for _, s, _ in tensors)
    log(STAGE, f"{name}: {total / 1e9:.2f} GB of random bf16 weights, {shape.layers} layers, hidden {shape.hidden}")
    with atomic_path(out_dir, directory=True) as tmp:
        tokenizer = train_sentencepiece(read_texts(corpus_dir, TRAIN_FILE), shape.tokenizer_pieces, tmp)
        write_json(tmp / "config.json", shape.config(tokenizer.bos_token_id, tokenizer.eos_token_id))
        shards = _shards(tensors)
        progress = ByteProgress(STAGE, f"{name} weights", total)
        files = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" if len(shards) > 1 else "model.safetensors"
                 for i in range(len(shards))]
        for file, entries in zip(files, shards, strict=True):
            _write_shard(tmp / file, entries, seed, progress)
        progress.finish()
        if len(shards) > 1:
            write_json(tmp / "model.safetensors.index.json", {
                "metadata": {"total_size": total},
                "weight_map": {n: f for f, entries in zip(files, shards, strict=True) for n, _, _ in entries}})
    return out_dir
