"""The reference: the original Hugging Face model in PyTorch, float32.

The reference stage streams the weights (`weights.py`): each module's parameters are read from the
checkpoint just before they are used, so a model of any size fits in about one layer's memory, and
windows go through the model in batches, so each batch reads the checkpoint once. Loaded whole
(`streamed=False`), the same model serves the benchmarks' speed baseline, where it must decode one
token at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pipeline import device as devices
from pipeline.runtimes.base import Runtime, piece_by_offset
from pipeline.runtimes.pooling import pool, pooling_mode

BATCH = 32  # sentences per forward pass
LOGITS_BATCH_BYTES = 256 * 2 ** 20  # decoder windows per forward pass: as many as this much float32 logits


def torch_cuda_build() -> bool:
    """Whether the installed torch can use CUDA here (a CPU build cannot, whatever the machine has)."""
    import torch

    return torch.cuda.is_available()


class TorchReference(Runtime):
    def __init__(self, hf_dir: Path, kind: str, device: str, threads: int, max_tokens: int = 512,
                 streamed: bool = False):
        import torch
        from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

        from pipeline.runtimes.weights import StreamedWeights, empty_model

        torch.set_num_threads(threads)
        self.device, self.max_tokens, self.streamed = device, max_tokens, streamed
        if streamed:
            self.model = empty_model(hf_dir, kind, device)
            StreamedWeights(self.model, hf_dir, device)
        else:
            loader = AutoModelForCausalLM if kind == "decoder" else AutoModel
            self.model = loader.from_pretrained(hf_dir, dtype=torch.float32).to(device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(hf_dir)
        self.pooling = pooling_mode(hf_dir)

    def windows_logits(self, windows: np.ndarray) -> Iterator[np.ndarray]:
        import torch

        windows = np.asarray(windows)
        per_window = windows.shape[1] * self.model.config.vocab_size * 4
        batch = max(1, LOGITS_BATCH_BYTES // per_window)
        with torch.inference_mode():
            for start in range(0, len(windows), batch):
                ids = torch.as_tensor(windows[start:start + batch], dtype=torch.long, device=self.device)
                yield from self.model(input_ids=ids).logits.float().cpu().numpy()

    def next_token_logits(self, window: np.ndarray) -> np.ndarray:
        return next(self.windows_logits(np.asarray(window)[None]))

    def generate(self, prompt: np.ndarray, count: int) -> Iterator[int]:
        import torch

        with torch.inference_mode():
            ids = torch.as_tensor(prompt, dtype=torch.long, device=self.device)[None]
            past = None
            for _ in range(count):
                result = self.model(input_ids=ids, past_key_values=past, use_cache=True)
                past = result.past_key_values
                token = int(result.logits[0, -1].argmax())
                yield token
                ids = torch.tensor([[token]], device=self.device)

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text)["input_ids"]

    def piece(self, token: int, previous: list[int]) -> str:
        return piece_by_offset(self.tokenizer.decode, token, previous)

    def embed(self, sentences: list[str]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(sentences), BATCH):
                batch = self.tokenizer(sentences[start:start + BATCH], padding=True, truncation=True,
                                       max_length=self.max_tokens, return_tensors="pt").to(self.device)
                hidden = self.model(**batch).last_hidden_state.float().cpu().numpy()
                out.append(pool(hidden, batch["attention_mask"].cpu().numpy(), self.pooling))
        return np.concatenate(out)

    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def info(self) -> dict[str, Any]:
        import torch

        return {"device": devices.describe(self.device), "runtime": "pytorch", "version": torch.__version__,
                "dtype": "float32", "weights": "streamed per module from the checkpoint" if self.streamed
                else "loaded whole"}

    def close(self) -> None:
        del self.model
