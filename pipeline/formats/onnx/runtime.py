"""ONNX variant directories in ONNX Runtime: CUDAExecutionProvider on a GPU, else CPUExecutionProvider.

Decoder windows are scored the way a server runs them: the first half of the window is one
prefill call with an empty past, then each remaining token is one decode step that feeds the
previous step's present key/values back as past. So the figures cover the graph's cache path,
not only its full-sequence path.
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
from pipeline.progress import log
from pipeline.runtimes.base import Runtime, piece_by_offset
from pipeline.runtimes.pooling import pool, pooling_mode

BATCH = 32
CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


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
        if kind == "decoder":
            self.io = DecoderIO.of(inputs, path)
        else:
            self.inputs = inputs
            self.tokenizer = _batch_tokenizer(model_dir, max_tokens)
            self.pooling = pooling_mode(model_dir)

    def _step(self, ids: np.ndarray, past: dict[str, np.ndarray], past_length: int):
        outputs = self.session.run(self.output_names, self.io.feeds(ids, past, past_length))
        return outputs[self.output_index][0].astype(np.float32), self.io.next_past(outputs, self.output_names)

    def next_token_logits(self, window: np.ndarray) -> np.ndarray:
        prefill = max(1, len(window) // 2)
        logits, past = self._step(window[:prefill], self.io.empty_past(), 0)
        rows = [logits]
        for position in range(prefill, len(window)):
            logits, past = self._step(window[position:position + 1], past, position)
            rows.append(logits)
        return np.concatenate(rows)

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

        return {"device": devices.describe(self.device), "runtime": "onnxruntime", "version": onnxruntime.__version__,
                "providers": self.providers}

    def close(self) -> None:
        del self.session
