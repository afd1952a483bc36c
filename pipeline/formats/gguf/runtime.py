"""GGUF files in llama.cpp, through llama-cpp-python."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pipeline import device as devices
from pipeline.errors import ModelprepError
from pipeline.runtimes.base import Runtime
from pipeline.toolchain import llama_cpp_commit


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


class LlamaCppRuntime(Runtime):
    def __init__(self, gguf: Path, kind: str, device: str, threads: int, n_ctx: int):
        import llama_cpp

        self.device = device
        try:
            self.llm = llama_cpp.Llama(
                str(gguf), n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, n_threads=threads, n_threads_batch=threads,
                n_gpu_layers=-1 if device == "cuda" else 0, logits_all=kind == "decoder",
                embedding=kind == "encoder", seed=0, verbose=False,
            )
        except (ValueError, RuntimeError) as err:
            raise ModelprepError(gguf, f"llama.cpp cannot load it: {err}") from None

    def next_token_logits(self, window: np.ndarray) -> np.ndarray:
        self.llm.reset()
        self.llm.eval([int(t) for t in window])
        return np.array(self.llm.scores[: len(window)], dtype=np.float32)

    def generate(self, prompt: np.ndarray, count: int) -> Iterator[int]:
        # A clean cache: generate() would otherwise reuse the cached prefix of the previous call,
        # and a timed run would process one prompt token instead of the whole prompt.
        self.llm.reset()
        tokens = self.llm.generate([int(t) for t in prompt], top_k=1, temp=0.0, reset=True)
        for _, token in zip(range(count), tokens):
            yield int(token)

    def embed(self, sentences: list[str]) -> np.ndarray:
        return np.asarray(self.llm.embed(sentences, normalize=False, truncate=True), dtype=np.float32)

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    def piece(self, token: int, previous: list[int]) -> str:
        # As llama-cpp-python's server words its logprobs (its native tokenizer keeps a token's own space).
        return self.llm.detokenize([token], prev_tokens=previous).decode("utf-8", errors="ignore")

    def info(self) -> dict[str, Any]:
        import llama_cpp

        return {"device": devices.describe(self.device), "runtime": "llama.cpp",
                "version": f"{llama_cpp_commit()} (llama-cpp-python {llama_cpp.__version__})",
                "gpu_layers": "all" if self.device == "cuda" else 0}

    def close(self) -> None:
        self.llm.close()
