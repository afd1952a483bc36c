"""The one evaluator: the same inputs through the reference and through a candidate runtime.

Decoders: fixed-length token windows of held-out text, each starting with BOS; at every position
both runtimes give a next-token distribution. From them: perplexity of each, its change, the mean
KL divergence KL(reference || candidate) and the share of positions with the same top-1 token, as
llama-perplexity's --kl-divergence reports them. Encoders: cosine similarity of pooled embeddings.
The reference's outputs are computed once per model and stored (decoders' log-probabilities in 16
bits per vocabulary entry, `logprobs.py`); each candidate is compared window by window against
them, so memory stays at one window of logits.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ModelprepError
from pipeline.fileio import atomic_path, read_json, write_json
from pipeline.logprobs import CompactLogprobs, CompactReader, CompactWriter, log_softmax
from pipeline.progress import StepProgress
from pipeline.runtimes.base import Runtime
from pipeline.settings import SettingsFile, setting

INPUTS_FILE = "inputs.npy"  # token windows (decoder), int32
SENTENCES_FILE = "sentences.json"  # sentences (encoder)
EMBEDDINGS_FILE = "embeddings.npy"  # the reference's pooled embeddings (encoder), float32
RECORD_FILE = "reference.json"
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class EvaluationSpec:
    """params.yaml `evaluation`: where and on what every variant is validated against the reference."""

    device: str = setting(choices=DEVICES)
    allow_cpu_fallback: bool = setting()
    threads: int = setting()
    window: int = setting(low=2)  # decoder: tokens per window, BOS first
    min_tokens: int = setting()
    sentences: int = setting()
    max_sentence_tokens: int = setting()


@dataclass(frozen=True)
class PerformanceSpec:
    """params.yaml `performance`: the fixed workload every variant is timed on, on the build device."""

    prompt_tokens: int  # decoder: prompt length; prompt + new_tokens must fit in evaluation.window
    new_tokens: int
    sentences: int  # encoder: sentences embedded per timed run
    repeats: int  # timed runs after one warm-up; each figure is their median


def read_performance(settings: SettingsFile, evaluation: EvaluationSpec) -> PerformanceSpec:
    spec = settings.read("performance", PerformanceSpec)
    if spec.prompt_tokens + spec.new_tokens > evaluation.window:
        raise settings.reader.error("'performance.prompt_tokens' + 'new_tokens' must fit in 'evaluation.window' "
                                    f"({spec.prompt_tokens} + {spec.new_tokens} > {evaluation.window})")
    return spec


def _significant(value: float, digits: int = 6) -> float:
    """Rounded so metrics files stay readable; the figures are deterministic anyway."""
    return float(f"{value:.{digits}g}")


def decoder_windows(tokenizer_dir: Path, texts: list[str], window: int, min_tokens: int,
                    source: str = "eval.parquet") -> np.ndarray:
    """Windows of `window` tokens of `source`'s text, enough to score min_tokens (window-1 per window).

    Each starts with BOS where the tokenizer has one; otherwise its first text token is context only.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    prefix = [] if tokenizer.bos_token_id is None else [tokenizer.bos_token_id]
    stream: list[int] = []
    for text in texts:
        stream.extend(tokenizer.encode(text, add_special_tokens=False))
        if tokenizer.eos_token_id is not None:
            stream.append(tokenizer.eos_token_id)
    body = window - len(prefix)
    count = math.ceil(min_tokens / (window - 1))
    if count * body > len(stream):
        raise ModelprepError(source, f"its text gives {len(stream)} tokens; {count} windows of {body} need "
                                     f"{count * body}")
    return np.array([prefix + stream[i * body:(i + 1) * body] for i in range(count)], dtype=np.int32)


def write_reference(out_dir: Path, runtime: Runtime, kind: str, inputs: np.ndarray | list[str],
                    record: dict[str, Any], stage: str) -> dict[str, float]:
    """What the reference says about the inputs, written as the comparison reads it: decoders' next-token
    log-probabilities compactly (`logprobs.py`), window by window as the runtime gives them; encoders'
    embeddings. Returns how fast it scored them (kept out of the record, which must not vary run to run)."""
    start = time.monotonic()
    with atomic_path(out_dir, directory=True) as tmp:
        if kind == "encoder":
            write_json(tmp / SENTENCES_FILE, list(inputs))
            np.save(tmp / EMBEDDINGS_FILE, runtime.embed(list(inputs)))
        else:
            np.save(tmp / INPUTS_FILE, inputs)
            progress = StepProgress(stage, "reference", int(inputs.size), "tokens")
            writer = None
            for index, (window, logits) in enumerate(zip(inputs, runtime.windows_logits(inputs), strict=True)):
                logprobs = log_softmax(logits[:-1])
                writer = writer or CompactWriter(tmp, len(inputs), len(window) - 1, logprobs.shape[-1])
                writer.write(index, CompactLogprobs.encode(logprobs, window[1:].astype(np.int64)))
                progress.advance(len(window))
            writer.close()
        rate = scoring_rate(kind, inputs, time.monotonic() - start)
        write_json(tmp / RECORD_FILE, {**record, "kind": kind})
    return rate


def scoring_rate(kind: str, inputs: np.ndarray | list[str], seconds: float) -> dict[str, float]:
    """Inputs scored per second, named by unit (tokens for decoders, sentences for encoders)."""
    count = inputs.size if kind == "decoder" else len(inputs)
    return {f"scoring_{'tokens' if kind == 'decoder' else 'sentences'}_per_s": round(count / max(seconds, 1e-9), 1)}


@dataclass
class Reference:
    kind: str
    inputs: np.ndarray | list[str]
    outputs: CompactReader | np.ndarray  # decoders: per-window log-probabilities; encoders: embeddings
    record: dict[str, Any]

    @classmethod
    def load(cls, ref_dir: Path) -> "Reference":
        record = read_json(ref_dir / RECORD_FILE)
        if record["kind"] == "encoder":
            return cls("encoder", read_json(ref_dir / SENTENCES_FILE), np.load(ref_dir / EMBEDDINGS_FILE), record)
        return cls("decoder", np.load(ref_dir / INPUTS_FILE), CompactReader(ref_dir), record)


def score(candidate: Runtime, reference: Reference, stage: str) -> dict[str, Any]:
    """Accuracy figures of `candidate` against the stored reference outputs."""
    if reference.kind == "encoder":
        return _score_encoder(candidate, reference)
    return _score_decoder(candidate, reference, stage)


def _score_decoder(candidate: Runtime, reference: Reference, stage: str) -> dict[str, Any]:
    windows = reference.inputs
    progress = StepProgress(stage, "candidate", int(windows.size), "tokens")
    klds, same_top1, nll_candidate, nll_reference = [], 0, 0.0, 0.0
    for index, (window, logits) in enumerate(zip(windows, candidate.windows_logits(windows), strict=True)):
        stored = reference.outputs[index]
        logits = logits[:-1]
        if logits.shape != stored.codes.shape:
            raise ModelprepError(stage, f"candidate gives logits of shape {logits.shape}, reference "
                                        f"{stored.codes.shape}")
        cand_lp, ref_lp = log_softmax(logits), stored.decode()
        # Both normalized in float64, so KL is never below zero but for float64 rounding, counted as 0.
        klds.append(np.maximum((np.exp(ref_lp) * (ref_lp - cand_lp)).sum(axis=-1), 0.0))
        same_top1 += int((stored.top1 == cand_lp.argmax(-1)).sum())
        nll_candidate -= np.take_along_axis(cand_lp, window[1:, None].astype(np.int64), axis=-1).sum()
        nll_reference -= stored.targets.sum()
        progress.advance(len(window))
    kld = np.concatenate(klds)
    n = kld.size
    ppl, ref_ppl = math.exp(nll_candidate / n), math.exp(nll_reference / n)
    return {
        "delta_ppl": _significant(ppl - ref_ppl),
        "delta_ppl_pct": _significant(100 * (ppl - ref_ppl) / ref_ppl),
        "max_kld": _significant(float(kld.max())),
        "mean_kld": _significant(float(kld.mean())),
        "p99_kld": _significant(float(np.percentile(kld, 99))),
        "perplexity": _significant(ppl),
        "reference_perplexity": _significant(ref_ppl),
        "same_top1": _significant(same_top1 / n),
        "scored_tokens": n,
    }


def _score_encoder(candidate: Runtime, reference: Reference) -> dict[str, Any]:
    cand = candidate.embed(list(reference.inputs)).astype(np.float64)
    ref = np.asarray(reference.outputs, dtype=np.float64)
    if cand.shape != ref.shape:
        raise ModelprepError("embeddings", f"candidate gives shape {cand.shape}, reference {ref.shape}")
    cosine = (cand * ref).sum(-1) / (np.linalg.norm(cand, axis=-1) * np.linalg.norm(ref, axis=-1))
    return {
        "mean_cosine": _significant(float(cosine.mean())),
        "min_cosine": _significant(float(cosine.min())),
        "sentences": int(cosine.size),
    }
