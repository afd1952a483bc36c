"""A small Llama-architecture decoder, generated and trained here, byte for byte the same each time.

A SentencePiece tokenizer is trained on the training split, then a seeded LlamaForCausalLM with
grouped-query attention is trained briefly on the same text, so its perplexity on the held-out
split means something. Determinism: fixed seeds, a fixed thread count (reduction order changes
float results), single-threaded tokenizer training and no input shuffling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.corpus import TRAIN_FILE, read_texts
from pipeline.examples.tokenizer import train_sentencepiece
from pipeline.fileio import atomic_path
from pipeline.progress import StepProgress, log
from pipeline.settings import Reader, setting

STAGE = "generate_example"
NAME = "tiny-llama"  # its key under params.yaml `examples`, and its folder under build/examples/


@dataclass(frozen=True)
class TinyLlamaSpec:
    """params.yaml `examples.tiny-llama`: architecture, training budget and seed."""

    seed: int = setting(low=-math.inf)  # any integer
    vocab_size: int = setting()
    hidden_size: int = setting()
    intermediate_size: int = setting()
    num_layers: int = setting()
    num_heads: int = setting()
    num_kv_heads: int = setting()
    context_length: int = setting()
    train_steps: int = setting()
    batch_size: int = setting()
    learning_rate: float = setting()
    threads: int = setting()


def read_examples(r: Reader, data: Any, where: str) -> TinyLlamaSpec:
    data = r.mapping(data, where)
    r.no_extra(data, {NAME}, where)
    at = f"{where}.{NAME}"
    spec = r.section(r.get(data, NAME, dict, where), at, TinyLlamaSpec)
    if spec.hidden_size % spec.num_heads or spec.num_heads % spec.num_kv_heads:
        raise r.error(f"'{at}': hidden_size must divide by num_heads and num_heads by num_kv_heads")
    return spec


def build_tiny_llama(spec: TinyLlamaSpec, corpus_dir: Path, out_dir: Path) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(spec.seed)
    torch.set_num_threads(spec.threads)
    torch.use_deterministic_algorithms(True)

    texts = read_texts(corpus_dir, TRAIN_FILE)
    with atomic_path(out_dir, directory=True) as tmp:
        log(STAGE, f"training a {spec.vocab_size}-token SentencePiece tokenizer on the training split")
        tokenizer = train_sentencepiece(texts, spec.vocab_size, tmp)

        stream = []
        for text in texts:
            stream.extend(tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id])
        tokens = torch.tensor(stream, dtype=torch.long)

        config = LlamaConfig(
            vocab_size=spec.vocab_size, hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
            num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads,
            num_key_value_heads=spec.num_kv_heads, max_position_embeddings=spec.context_length,
            rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        )
        model = LlamaForCausalLM(config)
        n_params = sum(p.numel() for p in model.parameters())
        log(STAGE, f"model: {n_params / 1e6:.2f}M parameters, {spec.num_layers} layers, "
                   f"{spec.num_heads} heads / {spec.num_kv_heads} KV heads; {len(stream)} training tokens")

        _train(model, tokens, spec)
        model.save_pretrained(tmp, safe_serialization=True)


def _train(model, tokens, spec: TinyLlamaSpec) -> None:
    import torch

    generator = torch.Generator().manual_seed(spec.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.learning_rate, weight_decay=0.01)
    warmup = max(1, spec.train_steps // 10)

    def schedule(step: int) -> float:  # linear warm-up, then cosine decay to 10 %
        if step < warmup:
            return (step + 1) / warmup
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, spec.train_steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    block = spec.context_length
    progress = StepProgress(STAGE, "training", spec.train_steps, "steps")
    model.train()
    for _ in range(spec.train_steps):
        starts = torch.randint(0, len(tokens) - block - 1, (spec.batch_size,), generator=generator)
        batch = torch.stack([tokens[s:s + block] for s in starts.tolist()])
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        progress.advance(note=f", loss {loss.item():.3f}")
    model.eval()
