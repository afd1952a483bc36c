"""The interface every runtime implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Iterator

import numpy as np


class Runtime(ABC):
    """A loaded model that the evaluator can query."""

    @abstractmethod
    def next_token_logits(self, window: np.ndarray) -> np.ndarray:
        """Logits (len(window), vocab) for the token after each position of `window`."""

    def windows_logits(self, windows: np.ndarray) -> Iterator[np.ndarray]:
        """`next_token_logits` of each window in turn; a runtime that scores several at once overrides it."""
        for window in windows:
            yield self.next_token_logits(window)

    @abstractmethod
    def generate(self, prompt: np.ndarray, count: int) -> Iterator[int]:
        """Greedy decoding: the `count` tokens after `prompt`, each yielded as soon as it is decoded."""

    @abstractmethod
    def embed(self, sentences: list[str]) -> np.ndarray:
        """Pooled embeddings (len(sentences), dim), pooled as the model's own config says."""

    @abstractmethod
    def tokenize(self, text: str) -> list[int]:
        """Token ids of a prompt as this runtime's tokenizer (and a server on it) reads it, BOS included."""

    @abstractmethod
    def piece(self, token: int, previous: list[int]) -> str:
        """The text `token` adds after the `previous` tokens (prompt and completion so far), as a completion
        server reports it."""

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """Runtime name, version and the device it actually ran on."""

    @abstractmethod
    def close(self) -> None:
        """Release the model's memory."""


def piece_by_offset(decode: Callable[[list[int]], str], token: int, previous: list[int]) -> str:
    """The text a token adds: decoding it alone would drop SentencePiece's leading space. A byte token that
    ends inside a character adds nothing (llama.cpp's servers drop the partial bytes too, not U+FFFD)."""
    before = decode(previous)
    return decode([*previous, token])[len(before):].replace("\ufffd", "")
