"""An ONNX variant on disk: one directory a node can run as is.

`model.onnx` holds the graph, and the weights too unless they pass `onnx.external_data_min_mib`;
then they go to `model.onnx.data` beside it (protobuf cannot hold more than 2 GiB in one file).
Tokenizer, config and genai_config.json travel in the same directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.errors import ModelprepError, first_line

MODEL_FILE = "model.onnx"
DATA_FILE = "model.onnx.data"
GENAI_CONFIG = "genai_config.json"


def model_bytes(model_dir: Path) -> int:
    """The graph and its weights on disk: what `size` means for an ONNX variant."""
    return sum(p.stat().st_size for p in model_dir.iterdir() if p.name in (MODEL_FILE, DATA_FILE))


def weight_bytes(model) -> int:
    """Bytes of the model's initializers, without serializing it (which fails past 2 GiB)."""
    from onnx.numpy_helper import to_array

    total = 0
    for tensor in model.graph.initializer:
        total += len(tensor.raw_data) if tensor.raw_data else to_array(tensor).nbytes
    return total


def save_model(model, out_dir: Path, external_min_bytes: int) -> None:
    import onnx

    external = weight_bytes(model) >= external_min_bytes
    # Deterministic bytes: one data file, tensors in graph order, no per-tensor size threshold games.
    onnx.save_model(model, out_dir / MODEL_FILE, save_as_external_data=external, all_tensors_to_one_file=True,
                    location=DATA_FILE, size_threshold=0)


def load_model(model_dir: Path):
    import onnx

    path = model_dir / MODEL_FILE
    if not path.is_file():
        raise ModelprepError(path, "ONNX model file missing")
    try:
        return onnx.load(path)
    except Exception as err:  # onnx raises protobuf DecodeError, ValueError or OSError here
        raise ModelprepError(path, f"not a readable ONNX model: {first_line(err)}") from None


def check_model(model_dir: Path, step: str, final_dir: Path) -> None:
    """onnx.checker on the file (by path, so external data and >2 GiB models are checked too).

    `model_dir` may be a temporary directory; errors name `final_dir`, the output the user asked for.
    """
    import onnx

    try:
        onnx.checker.check_model(str(model_dir / MODEL_FILE), full_check=False)
    except onnx.checker.ValidationError as err:
        raise ModelprepError(final_dir / MODEL_FILE,
                             f"{step} produced a model that fails onnx.checker: {first_line(err)}") from None


def copy_companions(src_dir: Path, dst_dir: Path) -> None:
    """Everything in a variant directory except the model and its weights: tokenizer, configs."""
    for path in sorted(src_dir.rglob("*")):
        if path.is_file() and path.name not in (MODEL_FILE, DATA_FILE):
            target = dst_dir / path.relative_to(src_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
