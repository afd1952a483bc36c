"""ONNX variant directories in ONNX Runtime: CUDAExecutionProvider on a GPU, else CPUExecutionProvider.

Decoder windows are scored in one call each (prefill with an empty past, logits for every position),
as fast as the graph allows. The cache path a server decodes through is checked once, on the first
window: its last CACHE_CHECK_STEPS positions are decoded one token at a time, each step fed the
previous step's present key/values as past, and at each the KL divergence of the stepped next-token
distribution from the one-call one must stay within CACHE_TOLERANCE; the largest is in the record.

The measure is a divergence, not the largest log-probability difference: int8 and int4 graphs quantize
their activations per call, so one token and a whole window round differently, which moves the
log-probabilities of the unlikely tail by tenths of a nat while the distribution barely changes. On
the TinyLlama-1.1B shape: KL up to 1.1e-3 (int8, int4) and 3.5e-12 (fp32) through a working cache,
while the largest log-probability difference was 0.23; with the past dropped, KL 2.5 to 3.6.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pipeline import device as devices
from pipeline.errors import ModelprepError
from pipeline.formats.onnx.feeds import DecoderIO, encoder_feeds
from pipeline.formats.onnx.files import MODEL_FILE
from pipeline.logprobs import log_softmax
from pipeline.progress import log
from pipeline.runtimes.base import Runtime, piece_by_offset
from pipeline.runtimes.pooling import pool, pooling_mode

BATCH = 32
CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
CACHE_CHECK_STEPS = 8
CACHE_TOLERANCE = 0.05  # nats of KL divergence: 45x the 1.1B int8 graph's rounding, 1/50 of a dropped past
LOGITS_BATCH_BYTES = 256 * 2 ** 20  # windows scored per call: as many as this much float32 logits


def cuda_provider_built() -> bool:
    """Whether the installed package is onnxruntime-gpu (it lists CUDA even on a machine without a GPU)."""
    import onnxruntime

    return CUDA in onnxruntime.get_available_providers()


def _tokenizer(model_dir: Path):
    """The variant's tokenizer.json in the `tokenizers` library, as a serving node would load it
    (transformers would pull in torch, and its memory would count as the variant's)."""
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise ModelprepError(path, "tokenizer.json missing from the ONNX variant")
    return Tokenizer.from_file(str(path))


def _batch_tokenizer(model_dir: Path, max_tokens: int):
    tokenizer = _tokenizer(model_dir)
    # Pad to the longest sentence of each batch (some files pin a fixed length), cut at max_tokens.
    padding = tokenizer.padding or {"pad_id": 0, "pad_token": "[PAD]", "pad_type_id": 0}
    tokenizer.enable_padding(pad_id=padding["pad_id"], pad_token=padding["pad_token"],
                             pad_type_id=padding["pad_type_id"])
    tokenizer.enable_truncation(max_tokens)
    return tokenizer


class OnnxRuntime(Runtime):
    def __init__(self, model_dir: Path, kind: str, device: str, threads: int, allow_cpu_fallback: bool,
                 max_tokens: int):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        path = model_dir / MODEL_FILE
        wanted = [CUDA, CPU] if device == "cuda" else [CPU]
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=wanted)
        except Exception as err:  # ORT raises its own Fail/InvalidGraph/NoSuchFile exceptions
            raise ModelprepError(path, f"ONNX Runtime cannot load it: {str(err).strip()[:300]}") from None
        self.providers = self.session.get_providers()
        self.device = "cuda" if self.providers[0] == CUDA else "cpu"
        if device == "cuda" and self.device != "cuda":
            if not allow_cpu_fallback:
                raise ModelprepError(path, "CUDAExecutionProvider was requested but failed to initialize "
                                           f"(session runs on {', '.join(self.providers)}); set "
                                           "evaluation.allow_cpu_fallback: true to validate on the CPU instead")
            log("onnxruntime", f"{path}: CUDAExecutionProvider failed to initialize; running on the CPU as "
                               "evaluation.allow_cpu_fallback allows")
        inputs = self.session.get_inputs()
        self.output_names = [o.name for o in self.session.get_outputs()]
        wanted_output = "logits" if kind == "decoder" else "last_hidden_state"
        if wanted_output not in self.output_names:
            raise ModelprepError(path, f"{kind}s are read from the '{wanted_output}' output, which this graph "
                                       f"lacks (it outputs {', '.join(self.output_names)})")
        self.output_index = self.output_names.index(wanted_output)
        self.model_dir = model_dir
        self.cache_divergence: float | None = None
        if kind == "decoder":
            self.io = DecoderIO.of(inputs, path)
        else:
            self.inputs = inputs
            self.tokenizer = _batch_tokenizer(model_dir, max_tokens)
            self.pooling = pooling_mode(model_dir)

    def _step(self, ids: np.ndarray, past: dict[str, np.ndarray], past_length: int):
        """One call for one sequence: its logits and the past for the next call."""
        outputs = self.session.run(self.output_names, self.io.feeds(np.asarray(ids)[None], past, past_length))
        return outputs[self.output_index][0].astype(np.float32), self.io.next_past(outputs, self.output_names)

    def windows_logits(self, windows: np.ndarray) -> Iterator[np.ndarray]:
        """Whole windows, several per call (as many as LOGITS_BATCH_BYTES of logits), each from an empty past."""
        windows = np.asarray(windows)
        first, _ = self._step(windows[0], self.io.empty_past(), 0)
        if self.cache_divergence is None:
            self.cache_divergence = self._check_cache(windows[0], first)
        yield first
        batch = max(1, LOGITS_BATCH_BYTES // first.nbytes)
        for start in range(1, len(windows), batch):
            ids = windows[start:start + batch]
            outputs = self.session.run([self.output_names[self.output_index]],
                                       self.io.feeds(ids, self.io.empty_past(len(ids)), 0))
            yield from outputs[0].astype(np.float32)

    def next_token_logits(self, window: np.ndarray) -> np.ndarray:
        return next(self.windows_logits(np.asarray(window)[None]))

    def _check_cache(self, window: np.ndarray, whole: np.ndarray) -> float:
        """The largest KL divergence, in nats, of the next-token distributions at the window's last
        positions decoded one token at a time through the past key/values from the one-call ones."""
        prefill = max(1, len(window) - CACHE_CHECK_STEPS)
        logits, past = self._step(window[:prefill], self.io.empty_past(), 0)
        rows = [logits[-1:]]
        for position in range(prefill, len(window)):
            logits, past = self._step(window[position:position + 1], past, position)
            rows.append(logits)
        stepped, one_call = log_softmax(np.concatenate(rows)), log_softmax(whole[prefill - 1:])
        divergence = float((np.exp(one_call) * (one_call - stepped)).sum(axis=-1).max())
        if divergence > CACHE_TOLERANCE:
            raise ModelprepError(self.model_dir / MODEL_FILE, f"decoding through the past key/values gives "
                                 f"next-token distributions {divergence:.3g} nats (KL divergence) from the whole "
                                 f"window's (tolerance {CACHE_TOLERANCE}): the graph's cache path is broken")
        return divergence

    def generate(self, prompt: np.ndarray, count: int) -> Iterator[int]:
        logits, past = self._step(np.asarray(prompt), self.io.empty_past(), 0)
        length = len(prompt)
        for produced in range(count):
            token = int(logits[-1].argmax())
            yield token
            if produced + 1 < count:
                logits, past = self._step(np.array([token]), past, length)
                length += 1

    def embed(self, sentences: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(sentences), BATCH):
            encodings = self.tokenizer.encode_batch(sentences[start:start + BATCH])
            batch = {"input_ids": np.array([e.ids for e in encodings]),
                     "attention_mask": np.array([e.attention_mask for e in encodings]),
                     "token_type_ids": np.array([e.type_ids for e in encodings])}
            hidden = self.session.run(["last_hidden_state"], encoder_feeds(self.inputs, batch))[0]
            out.append(pool(hidden, batch["attention_mask"], self.pooling))
        return np.concatenate(out)

    @cached_property
    def text_tokenizer(self):
        """Decoders take token ids; their tokenizer is loaded only for text (probes), so it does not count in
        the measured memory of the model."""
        return _tokenizer(self.model_dir)

    def tokenize(self, text: str) -> list[int]:
        return self.text_tokenizer.encode(text).ids

    def piece(self, token: int, previous: list[int]) -> str:
        return piece_by_offset(self.text_tokenizer.decode, token, previous)

    def info(self) -> dict[str, Any]:
        import onnxruntime

        info = {"device": devices.describe(self.device), "runtime": "onnxruntime", "version": onnxruntime.__version__,
                "providers": self.providers}
        if self.cache_divergence is not None:
            info["cache_check"] = {"steps": CACHE_CHECK_STEPS,
                                   "max_kld": float(f"{self.cache_divergence:.6g}")}
        return info

    def close(self) -> None:
        del self.session
