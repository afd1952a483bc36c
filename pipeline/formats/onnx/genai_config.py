"""genai_config.json: what ONNX Runtime GenAI needs to load an exported decoder.

The model builder in onnxruntime-genai writes this file for the graphs it builds; optimum's graphs
use the same input and output names, so the file is written from the graph's actual names and the
model's config. Encoders get none: ONNX Runtime GenAI runs generative models only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError

PAST_KEY, PAST_VALUE = "past_key_values.%d.key", "past_key_values.%d.value"
PRESENT_KEY, PRESENT_VALUE = "present.%d.key", "present.%d.value"


def _first(config: dict[str, Any], names: tuple[str, ...], source: Path) -> Any:
    """A config value under its Llama-style name or an older one (GPT-2 style: n_head, n_embd...)."""
    for name in names:
        if config.get(name) is not None:
            return config[name]
    raise ModelprepError(source, f"genai_config.json needs '{names[0]}' (or {', '.join(names[1:])}), "
                                 "which this config does not give")


def genai_config(config: dict[str, Any], generation: dict[str, Any], inputs: list[str], filename: str,
                 source: Path) -> dict[str, Any]:
    """The config for a decoder graph with past key/values named as optimum names them."""
    heads = _first(config, ("num_attention_heads", "n_head"), source)
    hidden = _first(config, ("hidden_size", "n_embd"), source)
    context = _first(config, ("max_position_embeddings", "n_positions", "n_ctx"), source)
    head_size = config.get("head_dim") or hidden // heads
    io_inputs = {name: name for name in ("input_ids", "attention_mask", "position_ids") if name in inputs}
    io_inputs |= {"past_key_names": PAST_KEY, "past_value_names": PAST_VALUE}

    def token(name: str) -> Any:
        return generation[name] if generation.get(name) is not None else config.get(name)

    return {
        "model": {
            "bos_token_id": token("bos_token_id"),
            "context_length": context,
            "decoder": {
                "filename": filename,
                "head_size": head_size,
                "hidden_size": hidden,
                "inputs": io_inputs,
                "num_attention_heads": heads,
                "num_hidden_layers": _first(config, ("num_hidden_layers", "n_layer"), source),
                "num_key_value_heads": config.get("num_key_value_heads", heads),
                "outputs": {"logits": "logits", "present_key_names": PRESENT_KEY, "present_value_names": PRESENT_VALUE},
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
            },
            "eos_token_id": token("eos_token_id"),
            # Greedy decoding of one sequence never pads; models without a pad token use EOS, as
            # the GenAI model builder does.
            "pad_token_id": token("pad_token_id") if token("pad_token_id") is not None else token("eos_token_id"),
            "type": config["model_type"],
            "vocab_size": _first(config, ("vocab_size",), source),
        },
        "search": {
            "do_sample": False,
            "early_stopping": True,
            "max_length": context,
            "min_length": 0,
            "num_beams": 1,
            "num_return_sequences": 1,
            "past_present_share_buffer": False,
            "repetition_penalty": 1.0,
            "temperature": 1.0,
            "top_k": 1,
            "top_p": 1.0,
        },
    }
