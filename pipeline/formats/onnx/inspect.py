"""What an ONNX variant directory holds: opset, operators, weight types, external data."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from pipeline.formats.onnx.files import DATA_FILE, GENAI_CONFIG, load_model


def describe_onnx(model_dir: Path) -> dict[str, Any]:
    from onnx import TensorProto

    model = load_model(model_dir, weights=False)
    operators = Counter(node.op_type for node in model.graph.node)
    weights = Counter(TensorProto.DataType.Name(t.data_type).lower() for t in model.graph.initializer)
    opsets = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
    return {
        "external_data": (model_dir / DATA_FILE).is_file(),
        "genai_config": (model_dir / GENAI_CONFIG).is_file(),
        "inputs": [i.name for i in model.graph.input],
        "ir_version": model.ir_version,
        "operators": dict(sorted(operators.items())),
        "opset": opsets.get("ai.onnx"),
        "opsets": dict(sorted(opsets.items())),
        "outputs": [o.name for o in model.graph.output],
        "weight_types": dict(sorted(weights.items())),
    }
