"""Sentence embeddings from hidden states, pooled the way the model was trained to be pooled.

One implementation for every runtime, so a cosine difference between runtimes is the model's,
never a pooling difference.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MODES = ("cls_token", "mean_tokens", "max_tokens", "lasttoken")


def pooling_mode(model_dir: Path) -> str:
    """The sentence-transformers pooling named in the model folder (mean when it names none)."""
    modules = model_dir / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            if module.get("type", "").endswith("Pooling"):
                config = json.loads((model_dir / module["path"] / "config.json").read_text(encoding="utf-8"))
                for mode in MODES:
                    if config.get(f"pooling_mode_{mode}"):
                        return mode
    return "mean_tokens"


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """(batch, tokens, dim) hidden states and (batch, tokens) attention mask -> (batch, dim)."""
    hidden = hidden.astype(np.float32)
    weights = mask[..., None].astype(np.float32)
    if mode == "cls_token":
        return hidden[:, 0]
    if mode == "max_tokens":
        return np.where(weights > 0, hidden, -np.inf).max(axis=1)
    if mode == "lasttoken":
        return hidden[np.arange(hidden.shape[0]), mask.sum(axis=1) - 1]
    return (hidden * weights).sum(axis=1) / weights.sum(axis=1)
