"""genai_config.json: what ONNX Runtime GenAI needs to load an exported decoder.

The model builder in onnxruntime-genai writes this file for the graphs it builds; optimum's graphs
use the same input and output names, so the file is written from the graph's actual names and the
model's config. Encoders get none: ONNX Runtime GenAI runs generative models only.
"""

from __future__ import annotations

from typing import Any

PAST_KEY, PAST_VALUE = "past_key_values.%d.key", "past_key_values.%d.value"
PRESENT_KEY, PRESENT_VALUE = "present.%d.key", "present.%d.value"


def genai_config(config: dict[str, Any], generation: dict[str, Any], inputs: list[str], outputs: list[str],
                 filename: str) -> dict[str, Any]:
    """The config for a decoder graph with past key/values named as optimum names them."""
    heads = config["num_attention_heads"]
    head_size = config.get("head_dim") or config["hidden_size"] // heads
    context = config.get("max_position_embeddings") or config.get("n_positions")
    io_inputs = {name: name for name in ("input_ids", "attention_mask", "position_ids") if name in inputs}
    io_inputs |= {"past_key_names": PAST_KEY, "past_value_names": PAST_VALUE}
    architecture = config["architectures"][0]
    return {
        "model": {
            "bos_token_id": generation.get("bos_token_id", config.get("bos_token_id")),
            "context_length": context,
            "decoder": {
                "filename": filename,
                "head_size": head_size,
                "hidden_size": config["hidden_size"],
                "inputs": io_inputs,
                "num_attention_heads": heads,
                "num_hidden_layers": config["num_hidden_layers"],
                "num_key_value_heads": config.get("num_key_value_heads", heads),
                "outputs": {"logits": "logits", "present_key_names": PRESENT_KEY, "present_value_names": PRESENT_VALUE},
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
            },
            "eos_token_id": generation.get("eos_token_id", config.get("eos_token_id")),
            "pad_token_id": generation.get("pad_token_id", config.get("pad_token_id"))
            or generation.get("eos_token_id", config.get("eos_token_id")),
            "type": architecture.split("For")[0].lower(),
            "vocab_size": config["vocab_size"],
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
