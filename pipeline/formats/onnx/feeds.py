"""The inputs an exported graph takes, built from what its ONNX Runtime session declares.

Decoders take input_ids, attention_mask, position_ids and one key and one value tensor of past
per layer, shaped (batch, kv_heads, past_length, head_size); they return logits and the present
key/values, which are the next call's past. Encoders take input_ids, attention_mask and, for
BERT-like models, token_type_ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from pipeline.errors import ModelprepError
from pipeline.formats.onnx.files import GENAI_CONFIG

_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}  # past key/value types the runtime feeds


_ELEMENT_TYPES = {1: "tensor(float)", 10: "tensor(float16)", 7: "tensor(int64)", 6: "tensor(int32)"}


def graph_inputs(model) -> list[SimpleNamespace]:
    """A ModelProto's inputs described as `InferenceSession.get_inputs()` describes them."""
    out = []
    for value in model.graph.input:
        tensor = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in tensor.shape.dim]
        out.append(SimpleNamespace(name=value.name, shape=shape, type=_ELEMENT_TYPES.get(tensor.elem_type, "?")))
    return out


@dataclass(frozen=True)
class DecoderIO:
    names: tuple[str, ...]  # every input, in graph order
    past: tuple[str, ...]  # past_key_values.* inputs, in graph order
    present: tuple[str, ...]  # present.* outputs, in the same order
    kv_heads: int
    head_size: int
    kv_dtype: type

    @classmethod
    def of(cls, inputs, source: Path) -> DecoderIO:
        """From the graph's inputs, as `InferenceSession.get_inputs()` lists them; `source` names the
        model file in errors. A head size the graph leaves symbolic (ONNX Runtime GenAI's builder names
        it kv_cache_dim) is read from the genai_config.json beside it."""
        past = [i for i in inputs if i.name.startswith("past_key_values.")]
        if not past:
            raise ModelprepError(source, "a decoder graph needs past_key_values inputs "
                                         "(optimum task text-generation-with-past)")
        shape, kind = list(past[0].shape), past[0].type
        config = source.parent / GENAI_CONFIG
        if len(shape) == 4 and not isinstance(shape[3], int) and config.is_file():
            shape[3] = json.loads(config.read_text(encoding="utf-8"))["model"]["decoder"]["head_size"]
        if len(shape) != 4 or not all(isinstance(d, int) for d in shape[1::2]) or kind not in _DTYPES:
            raise ModelprepError(source, f"past key/values must be float tensors (batch, kv_heads, length, "
                                         f"head_size) with fixed heads and size; {past[0].name} is {kind} {shape}")
        present = tuple(n.replace("past_key_values.", "present.") for n in (p.name for p in past))
        return cls(tuple(i.name for i in inputs), tuple(p.name for p in past), present, shape[1], shape[3],
                   _DTYPES[kind])

    def empty_past(self, batch: int = 1) -> dict[str, np.ndarray]:
        return {name: np.zeros((batch, self.kv_heads, 0, self.head_size), dtype=self.kv_dtype) for name in self.past}

    def feeds(self, ids: np.ndarray, past: dict[str, np.ndarray], past_length: int) -> dict[str, np.ndarray]:
        """Inputs for the tokens `ids` (sequences x tokens) following `past_length` tokens already in `past`."""
        ids = np.asarray(ids, dtype=np.int64)
        total = past_length + ids.shape[1]
        feeds = {"input_ids": ids, **past}
        if "attention_mask" in self.names:
            feeds["attention_mask"] = np.ones((len(ids), total), dtype=np.int64)
        if "position_ids" in self.names:
            feeds["position_ids"] = np.broadcast_to(np.arange(past_length, total, dtype=np.int64), ids.shape).copy()
        return feeds

    def next_past(self, outputs: list[np.ndarray], output_names: list[str]) -> dict[str, np.ndarray]:
        by_name = dict(zip(output_names, outputs, strict=True))
        return {past: by_name[present] for past, present in zip(self.past, self.present, strict=True)}


def is_decoder(inputs) -> bool:
    return any(i.name.startswith("past_key_values.") for i in inputs)


def encoder_feeds(inputs, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The tokenizer's arrays the graph takes (token_type_ids only where it declares them)."""
    names = {i.name for i in inputs}
    feeds = {k: np.asarray(v, dtype=np.int64) for k, v in batch.items() if k in names}
    if "token_type_ids" in names and "token_type_ids" not in feeds:
        feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
    return feeds
