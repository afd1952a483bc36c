"""The reference's next-token log-probabilities, stored compactly: 16 bits per vocabulary entry.

As llama.cpp stores its KL-divergence base (`llama-perplexity --kl-divergence-base`): per scored
position, every log-probability is quantized to a 16-bit step between the position's largest value
and a floor RANGE nats below it (entries under the floor, with probability below e^-40, are clipped
to it), with the floor and the step kept as float32. A position costs 2 bytes per vocabulary entry
plus 8, a quarter of float64 and half of float32. Decoded, the values are renormalized in float64,
so the KL divergence against them is never negative. Two figures the scores need exactly are kept
exactly: the reference's log-probability of the actual next token (perplexity) and its most likely
token (same top-1).

The quantization error adds a bias of about step^2 / 24 nats to each position's KL divergence (the
mean of the squared rounding error, halved): below 5e-8 for a typical step, so figures from 1e-5 up
keep three significant digits (`tests/test_logprobs.py` compares them with the float32 computation
on the example decoder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

RANGE = 40.0  # nats below a position's most likely token that the 16 bits cover
LEVELS = 65535

CODES, BOUNDS, TARGETS, TOP1 = "logprobs.u16.npy", "logprob_bounds.npy", "target_logprobs.npy", "top1.npy"


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """float64 log-probabilities over the last axis."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@dataclass
class CompactLogprobs:
    """The four arrays of one window, positions x vocabulary."""

    codes: np.ndarray  # uint16 (positions, vocabulary)
    bounds: np.ndarray  # float32 (positions, 2): floor and step
    targets: np.ndarray  # float64 (positions,): log-probability of the token that follows
    top1: np.ndarray  # int32 (positions,): most likely token

    @classmethod
    def encode(cls, logprobs: np.ndarray, next_tokens: np.ndarray) -> CompactLogprobs:
        """From float64 log-probabilities (positions, vocabulary) and the tokens that follow each position."""
        top = logprobs.max(axis=-1)
        floor = np.maximum(logprobs.min(axis=-1), top - RANGE)
        step = np.maximum((top - floor) / LEVELS, np.finfo(np.float32).tiny)
        floor32, step32 = floor.astype(np.float32), step.astype(np.float32)
        scaled = (logprobs - floor32[:, None].astype(np.float64)) / step32[:, None].astype(np.float64)
        codes = np.clip(np.rint(scaled), 0, LEVELS).astype(np.uint16)
        return cls(codes, np.stack([floor32, step32], axis=-1),
                   np.take_along_axis(logprobs, next_tokens[:, None], axis=-1)[:, 0],
                   logprobs.argmax(axis=-1).astype(np.int32))

    def decode(self) -> np.ndarray:
        """float64 log-probabilities (positions, vocabulary), renormalized."""
        floor, step = self.bounds[:, :1].astype(np.float64), self.bounds[:, 1:].astype(np.float64)
        return log_softmax(floor + self.codes * step)


class CompactWriter:
    """Writes every window's compact log-probabilities straight to .npy files in `folder`, one window at
    a time, so the reference never holds more than a window of them."""

    def __init__(self, folder: Path, windows: int, positions: int, vocabulary: int):
        open_memmap = np.lib.format.open_memmap
        self.arrays = {
            CODES: open_memmap(folder / CODES, "w+", np.uint16, (windows, positions, vocabulary)),
            BOUNDS: open_memmap(folder / BOUNDS, "w+", np.float32, (windows, positions, 2)),
            TARGETS: open_memmap(folder / TARGETS, "w+", np.float64, (windows, positions)),
            TOP1: open_memmap(folder / TOP1, "w+", np.int32, (windows, positions)),
        }

    def write(self, index: int, window: CompactLogprobs) -> None:
        for name, values in zip((CODES, BOUNDS, TARGETS, TOP1),
                                (window.codes, window.bounds, window.targets, window.top1), strict=True):
            self.arrays[name][index] = values

    def close(self) -> None:
        for array in self.arrays.values():
            array.flush()
        self.arrays.clear()


class CompactReader:
    """The stored windows, read one at a time from memory-mapped files."""

    def __init__(self, folder: Path):
        self.arrays = {name: np.load(folder / name, mmap_mode="r") for name in (CODES, BOUNDS, TARGETS, TOP1)}

    def __len__(self) -> int:
        return len(self.arrays[CODES])

    def __getitem__(self, index: int) -> CompactLogprobs:
        return CompactLogprobs(*(np.asarray(self.arrays[name][index]) for name in (CODES, BOUNDS, TARGETS, TOP1)))
