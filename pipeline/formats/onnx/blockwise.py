"""Weight-only block quantization of an ONNX model one weight at a time, so a model far larger than
memory is quantized in about the memory of its largest weight.

The graph is read without its weights. Each MatMul weight (and, with `embeddings`, each Gather
table) is read alone from the base's data file into a scratch graph of its own, quantized there by
ONNX Runtime's own quantizer (`DefaultWeightOnlyQuantizer`, the one MatMulNBitsQuantizer uses:
MatMulNBits, GatherBlockQuantized), and its packed blocks and scales go to the variant's data file
before the next weight is read. The scratch graph matters: protobuf's upb runtime keeps a message's
bytes in its arena until the whole message is freed, so weights brought into the model's own graph
stayed resident after being cleared (1.26 GiB of growth for 1 GiB of weights). Every other weight is
copied across as it is. Tensors are written in graph order, so the same base gives the same bytes. A model small enough for one protobuf file (below `onnx.external_data_min_mib`)
stays in one file, as the export does.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from pipeline.formats.onnx.files import (
    DATA_FILE,
    external_location,
    inline,
    load_model,
    tensor_bytes,
)
from pipeline.progress import ByteProgress

ALIGN = 64  # every tensor in the data file starts on this boundary, as ONNX Runtime GenAI aligns them
STAGE = "quantize_onnx"


class DataFile:
    """The variant's external-data file, written front to back, one tensor at a time."""

    def __init__(self, handle: BinaryIO):
        self.handle = handle

    def put(self, tensor, folder: Path) -> None:
        """Move `tensor`'s bytes (inline, or external under `folder`) to the end of this file."""
        from onnx import TensorProto

        data = tensor_bytes(tensor, folder)
        offset = self.handle.tell() + (-self.handle.tell() % ALIGN)
        self.handle.write(b"\0" * (offset - self.handle.tell()))
        self.handle.write(data)
        tensor.ClearField("raw_data")
        del tensor.external_data[:]
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", DATA_FILE), ("offset", str(offset)), ("length", str(len(data)))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value


def gather_int8(node, graph, block_size: int) -> list:
    """Gather on an embedding table -> GatherBlockQuantized of 8-bit symmetric blocks along the hidden axis
    (ONNX Runtime's quantizer makes 4-bit ones only; its kernel reads uint8 with an implicit zero point
    of 128)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    table = next(t for t in graph.initializer if t.name == node.input[0])
    values = numpy_helper.to_array(table).astype(np.float32)
    rows, width = values.shape
    blocks = values.reshape(rows, -1, block_size)
    scales = np.abs(blocks).max(axis=-1) / 127
    codes = np.rint(blocks / np.where(scales == 0, 1, scales)[..., None]) + 128
    data = helper.make_tensor(f"{table.name}_Q8", TensorProto.UINT8, (rows, width),
                              codes.astype(np.uint8).tobytes(), raw=True)
    graph.initializer.extend([data, numpy_helper.from_array(scales.astype(np.float32), f"{table.name}_scales")])
    axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
    return [helper.make_node("GatherBlockQuantized", [data.name, node.input[1], f"{table.name}_scales"],
                             list(node.output), name=f"{node.name}_Q8", domain="com.microsoft", gather_axis=axis,
                             quantize_axis=1, block_size=block_size, bits=8)]


def quantize_one(node, weight, base_dir: Path, quantizer, bits: int, block_size: int) -> tuple[list, list]:
    """`node`'s replacement nodes and the tensors they add, made in a scratch graph holding only `weight`'s
    bytes (freed with it: see the module's docstring)."""
    from onnx import GraphProto

    scratch = GraphProto()
    copy = scratch.initializer.add()
    copy.CopyFrom(weight)
    inline(copy, base_dir)
    replaced = gather_int8(node, scratch, block_size) if node.op_type == "Gather" and bits == 8 \
        else quantizer.quantize(node, [scratch])
    return replaced, [t for t in scratch.initializer if t.name != weight.name]


def quantize_blockwise(base_dir: Path, out_dir: Path, bits: int, block_size: int, symmetric: bool,
                       accuracy_level: int, embeddings: bool, external: bool):
    """The variant's graph; with `external` its weights are already in `out_dir/model.onnx.data`, else
    inline."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        DefaultWeightOnlyQuantizer,
    )

    model = load_model(base_dir, weights=False)
    graph = model.graph
    ops = ("MatMul", "Gather") if embeddings else ("MatMul",)
    quantizer = DefaultWeightOnlyQuantizer(DefaultWeightOnlyQuantConfig(
        block_size=block_size, is_symmetric=symmetric, accuracy_level=accuracy_level, bits=bits,
        op_types_to_quantize=ops, quant_axes=(("MatMul", 0), ("Gather", 1))))
    originals = list(graph.initializer)
    by_name = {t.name: t for t in originals}
    readers = {t.name: sum(list(n.input).count(t.name) for n in graph.node) for t in originals}
    total = sum(int(external_location(t).get("length", len(t.raw_data))) for t in originals)
    progress = ByteProgress(STAGE, f"{bits}-bit blocks, one weight at a time", total)
    handle = open(out_dir / DATA_FILE, "wb") if external else None
    sink = DataFile(handle) if handle else None
    nodes, made = [], []
    try:
        for node in list(graph.node):
            weight = by_name.get(node.input[0 if node.op_type == "Gather" else 1]) \
                if node.op_type in ops and len(node.input) > 1 else None
            if weight is None:
                nodes.append(node)
                continue
            progress.advance(int(external_location(weight).get("length", len(weight.raw_data))))
            replaced, added = quantize_one(node, weight, base_dir, quantizer, bits, block_size)
            nodes.extend(replaced)
            for tensor in added:
                if sink:
                    sink.put(tensor, out_dir)  # leaves only the tensor's location: small enough to keep
                made.append(onnx.TensorProto())
                made[-1].CopyFrom(tensor)
            if replaced != [node]:
                readers[weight.name] -= 1
        kept = [t for t in originals if readers[t.name] > 0]
        for tensor in kept:
            if sink:
                sink.put(tensor, base_dir)
            else:
                inline(tensor, base_dir)
    finally:
        if handle:
            handle.close()
    progress.finish()
    if all(o.domain != "com.microsoft" for o in model.opset_import):  # MatMulNBits' domain
        model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    final = [onnx.TensorProto() for _ in kept]  # the graph's own tensors go with its initializer list below
    for copy, tensor in zip(final, kept, strict=True):
        copy.CopyFrom(tensor)
    final += made
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(final)
    return model
