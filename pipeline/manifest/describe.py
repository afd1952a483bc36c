"""What a manifest says about a variant beyond its bytes: each file's role and media type, and the
architecture figures a scheduler sizes memory from (read from the model's config.json)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.formats.base import Format

# Roles of the files every format may carry, by name; the format names its own (weights, model...),
# and anything else is config.
_ROLES = {
    "tokenizer.json": "tokenizer",
    "tokenizer.model": "tokenizer", "vocab.txt": "tokenizer", "merges.txt": "tokenizer",
    "tokenizer_config.json": "tokenizer", "special_tokens_map.json": "tokenizer", "modules.json": "pooling",
    "sentence_bert_config.json": "pooling", "config_sentence_transformers.json": "pooling",
}
_MEDIA_TYPES = {".json": "application/json", ".txt": "text/plain", ".md": "text/markdown",
                ".parquet": "application/vnd.apache.parquet"}


def media_type(name: str) -> str:
    """GGUF and ONNX have no registered media type, so binary files are application/octet-stream."""
    return _MEDIA_TYPES.get(PurePosixPath(name).suffix, "application/octet-stream")


def file_role(name: str, fmt: Format) -> tuple[str, str]:
    """(role, media type) of a package file: weights, model, external-data, tokenizer, config, engine-config or
    pooling."""
    path = PurePosixPath(name)
    role = fmt.file_role(name)
    if role is None:
        role = "pooling" if path.parts[0].endswith("_Pooling") else _ROLES.get(path.name, "config")
    return role, media_type(name)


def architecture(config: dict[str, Any]) -> dict[str, Any]:
    """Layers, widths, heads and context from a Hugging Face config.json (None where the model has none)."""
    heads = config["num_attention_heads"]
    hidden = config["hidden_size"]
    return {
        "architecture": (config.get("architectures") or [None])[0],
        "model_type": config.get("model_type"),
        "layers": config["num_hidden_layers"],
        "hidden_size": hidden,
        "ffn_size": config.get("intermediate_size"),
        "heads": heads,
        "kv_heads": config.get("num_key_value_heads") or heads,
        "head_size": config.get("head_dim") or hidden // heads,
        "vocabulary": config["vocab_size"],
        "trained_context": config.get("max_position_embeddings"),
        "sliding_window": config.get("sliding_window"),
    }
