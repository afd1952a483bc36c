"""The reference: the original Hugging Face model in PyTorch, fp32."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import device as devices
from pipeline.runtimes.base import Runtime

BATCH = 32


def pooling_mode(hf_dir: Path) -> str:
    """The sentence-transformers pooling the model was trained with (mean when it says none)."""
    modules = hf_dir / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            if module.get("type", "").endswith("Pooling"):
                config = json.loads((hf_dir / module["path"] / "config.json").read_text(encoding="utf-8"))
                for mode in ("cls_token", "mean_tokens", "max_tokens", "lasttoken"):
                    if config.get(f"pooling_mode_{mode}"):
                        return mode
    return "mean_tokens"


class TorchReference(Runtime):
    def __init__(self, hf_dir: Path, kind: str, device: str, threads: int, max_tokens: int = 512):
        import torch
        from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(threads)
        self.device = device
        self.max_tokens = max_tokens
        loader = AutoModelForCausalLM if kind == "decoder" else AutoModel
        self.model = loader.from_pretrained(hf_dir, torch_dtype=torch.float32).to(device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(hf_dir)
        self.pooling = pooling_mode(hf_dir)

    def next_token_logits(self, window: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            ids = torch.as_tensor(window, dtype=torch.long, device=self.device)[None]
            return self.model(input_ids=ids).logits[0].float().cpu().numpy()

    def embed(self, sentences: list[str]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(sentences), BATCH):
                batch = self.tokenizer(sentences[start:start + BATCH], padding=True, truncation=True,
                                       max_length=self.max_tokens, return_tensors="pt").to(self.device)
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                if self.pooling == "cls_token":
                    pooled = hidden[:, 0]
                elif self.pooling == "max_tokens":
                    pooled = hidden.masked_fill(mask == 0, float("-inf")).amax(dim=1)
                elif self.pooling == "lasttoken":
                    pooled = hidden[torch.arange(hidden.shape[0]), batch["attention_mask"].sum(1) - 1]
                else:
                    pooled = (hidden * mask).sum(1) / mask.sum(1)
                out.append(pooled.float().cpu().numpy())
        return np.concatenate(out)

    def info(self) -> dict[str, Any]:
        import torch

        return {"device": devices.describe(self.device), "runtime": "pytorch", "version": torch.__version__,
                "dtype": "float32"}

    def close(self) -> None:
        del self.model
