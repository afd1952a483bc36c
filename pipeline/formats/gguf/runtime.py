"""GGUF files in llama.cpp, through llama-cpp-python."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pipeline import device as devices
from pipeline.errors import ModelprepError
from pipeline.formats.gguf.binding import load_llama_cpp
from pipeline.runtimes.base import Runtime
from pipeline.toolchain import llama_cpp_commit

# Scoring batches as llama-perplexity does by default: 2048 tokens per llama_decode call (several
# windows, one sequence each, in one unified KV cache), computed in micro-batches of 512.
SCORING_BATCH, SCORING_UBATCH = 2048, 512


def gpu_offload_supported() -> bool:
    llama_cpp = load_llama_cpp()

    return bool(llama_cpp.llama_supports_gpu_offload())


class LlamaCppRuntime(Runtime):
    def __init__(self, gguf: Path, kind: str, device: str, threads: int, n_ctx: int):
        llama_cpp = load_llama_cpp()

        self.device, self.threads = device, threads
        try:
            self.llm = llama_cpp.Llama(
                str(gguf), n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, n_threads=threads, n_threads_batch=threads,
                n_gpu_layers=-1 if device == "cuda" else 0, logits_all=kind == "decoder",
                embedding=kind == "encoder", seed=0, verbose=False,
            )
        except (ValueError, RuntimeError) as err:
            raise ModelprepError(gguf, f"llama.cpp cannot load it: {err}") from None
        self._warm_up(kind)

    def _warm_up(self, kind: str) -> None:
        """One pass over the weights before anything is timed, as llama.cpp's own tools do: llama.cpp maps
        the file, so its first pass reads the weights from disk (a tenth of the 7B Q8_0 scoring time),
        which PyTorch and ONNX Runtime do while loading."""
        if kind == "encoder":
            self.llm.embed(["warm-up"])
            return
        bos = self.llm.token_bos()
        self.llm.eval([bos if bos >= 0 else self.llm.token_eos()])
        self.llm.reset()

    def next_token_logits(self, window: np.ndarray) -> np.ndarray:
        self.llm.reset()
        self.llm.eval([int(t) for t in window])
        return np.array(self.llm.scores[: len(window)], dtype=np.float32)

    def windows_logits(self, windows: np.ndarray) -> Iterator[np.ndarray]:
        """Every window's logits, several windows per decode call in a context of their own on the same
        weights (the serving context stays as the generation and probes use it)."""
        windows = np.asarray(windows)
        with _ScoringContext(self.llm, windows.shape[1], self.threads) as scoring:
            for start in range(0, len(windows), scoring.sequences):
                yield from scoring.logits(windows[start:start + scoring.sequences])

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
        llama_cpp = load_llama_cpp()

        return {"device": devices.describe(self.device), "runtime": "llama.cpp",
                "version": f"{llama_cpp_commit()} (llama-cpp-python {llama_cpp.__version__})",
                "gpu_layers": "all" if self.device == "cuda" else 0}

    def close(self) -> None:
        self.llm.close()


class _ScoringContext:
    """A llama.cpp context that scores up to `sequences` windows in one decode call, each its own sequence."""

    def __init__(self, llm, window: int, threads: int):
        llama_cpp = load_llama_cpp()

        self.window, self.sequences = window, max(1, SCORING_BATCH // window)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = params.n_batch = window * self.sequences
        params.n_ubatch = min(SCORING_UBATCH, params.n_batch)
        params.n_seq_max, params.kv_unified = self.sequences, True
        params.n_threads = params.n_threads_batch = threads
        self.vocabulary = llm.n_vocab()
        self.ctx = llama_cpp.llama_init_from_model(llm._model.model, params)
        if not self.ctx:
            raise ModelprepError(llm.model_path, f"llama.cpp cannot make a scoring context of {params.n_ctx} tokens")
        self.batch = llama_cpp.llama_batch_init(params.n_batch, 0, 1)

    def __enter__(self) -> _ScoringContext:
        return self

    def __exit__(self, *exc) -> None:
        llama_cpp = load_llama_cpp()

        llama_cpp.llama_batch_free(self.batch)
        llama_cpp.llama_free(self.ctx)

    def logits(self, windows: np.ndarray) -> Iterator[np.ndarray]:
        """Each window's logits, copied out of llama.cpp's buffer one window at a time as it is asked for
        (a fresh array for the whole batch cost more than the copy: page faults on 262 MB at 1.1B)."""
        llama_cpp = load_llama_cpp()

        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)
        batch, count = self.batch, 0
        for sequence, window in enumerate(windows):
            for position, token in enumerate(window):
                batch.token[count], batch.pos[count], batch.logits[count] = int(token), position, True
                batch.n_seq_id[count], batch.seq_id[count][0] = 1, sequence
                count += 1
        batch.n_tokens = count
        code = llama_cpp.llama_decode(self.ctx, batch)
        if code != 0:
            raise ModelprepError("llama.cpp", f"llama_decode failed with code {code} scoring {len(windows)} windows")
        values = np.ctypeslib.as_array(llama_cpp.llama_get_logits(self.ctx), shape=(count, self.vocabulary))
        for i in range(len(windows)):
            yield np.array(values[i * self.window:(i + 1) * self.window])
