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


def load_model(model_dir: Path, weights: bool = True):
    """The model proto; without `weights`, its external weights are left on disk (the graph, the
    initializers' names, types and shapes are all there).

    External weights are read here rather than by onnx.load, which refuses a data file with more than
    one hard link, and every data file in a DVC cache of hard links or in onnx-fp32 (linked to the
    base) has several."""
    import onnx

    path = model_dir / MODEL_FILE
    if not path.is_file():
        raise ModelprepError(path, "ONNX model file missing")
    try:
        model = onnx.load(path, load_external_data=False)
        if weights:
            for tensor in model.graph.initializer:
                inline(tensor, model_dir)
    except Exception as err:  # onnx raises protobuf DecodeError, ValueError or OSError here
        raise ModelprepError(path, f"not a readable ONNX model: {first_line(err)}") from None
    return model


def external_location(tensor) -> dict[str, str]:
    """An external tensor's location, offset and length entries."""
    return {entry.key: entry.value for entry in tensor.external_data}


def tensor_bytes(tensor, folder: Path) -> bytes:
    """A tensor's raw bytes, from the proto or read alone from its external data file under `folder`."""
    import math

    from onnx import TensorProto, helper, numpy_helper

    if tensor.data_location != TensorProto.EXTERNAL:
        return tensor.raw_data or numpy_helper.to_array(tensor).tobytes()
    where = external_location(tensor)
    # `length` is optional in the format: then the tensor's own size
    where.setdefault("length", str(math.prod(tensor.dims) * helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize))
    location = (folder / where["location"]).resolve()
    if location.parent != folder.resolve():  # as onnx checks: a location is a file beside the model
        raise ModelprepError(folder / MODEL_FILE, f"external data location {where['location']!r} is outside "
                                                  "the model's folder")
    with open(location, "rb") as handle:
        handle.seek(int(where.get("offset", 0)))
        data = handle.read(int(where["length"]))
    if len(data) != int(where["length"]):
        raise ModelprepError(location, f"truncated: tensor {tensor.name!r} needs {where['length']} bytes at offset "
                                       f"{where.get('offset', 0)}")
    return data


def inline(tensor, folder: Path) -> None:
    """Bring an external tensor's bytes into the proto."""
    from onnx import TensorProto

    if tensor.data_location == TensorProto.EXTERNAL:
        tensor.raw_data = tensor_bytes(tensor, folder)
        tensor.data_location = TensorProto.DEFAULT
        del tensor.external_data[:]


def check_model(model_dir: Path, step: str, final_dir: Path, kind: str) -> None:
    """onnx.checker on the file (by path, so external data and >2 GiB models are checked too).

    `model_dir` may be a temporary directory; errors name `final_dir`, the output the user asked for.
    Decoders are not checked here: ONNX Runtime GenAI's builder uses ONNX Runtime's own operators in the
    default domain (SimplifiedLayerNormalization), which onnx.checker rejects; ONNX Runtime itself
    loads and runs them in the evaluate stage.
    """
    import onnx

    if kind == "decoder":
        return
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
