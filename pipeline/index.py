"""`manifests/index.json` and `manifests/index.parquet`: one row per released variant, for registries.

Rows follow params.yaml's order (models, then GGUF and ONNX variants); a variant without a manifest
(not built, or not released) has no row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.fileio import atomic_path, read_json, write_json
from pipeline.package import CONTENT
from pipeline.params import Params

COLUMNS = ("model", "variant", "format", "kind", "precision", "package_cid_v1", "package_cid_v0", "bytes",
           "files", "manifest")


def index_rows(params: Params, manifests: Path) -> list[dict[str, Any]]:
    rows = []
    for model in params.models:
        for variant in params.variants:
            path = manifests / model / f"{variant}.json"
            if not path.is_file():
                continue
            manifest = read_json(path)
            content = manifest[CONTENT]
            rows.append({
                "bytes": sum(f["size"] for f in manifest["files"]),
                "files": len(manifest["files"]),
                "format": manifest["format"],
                "kind": manifest["kind"],
                "manifest": path.as_posix(),
                "model": model,
                "package_cid_v0": content["package"]["cid_v0"],
                "package_cid_v1": content["package"]["cid_v1"],
                "precision": manifest["quantization"]["precision"],
                "variant": variant,
            })
    return rows


def write_index(params: Params, manifests: Path) -> list[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = index_rows(params, manifests)
    write_json(manifests / "index.json", {"variants": rows})
    table = pa.Table.from_pylist(rows, schema=pa.schema(
        [(c, pa.int64() if c in ("bytes", "files") else pa.string()) for c in COLUMNS]))
    with atomic_path(manifests / "index.parquet") as tmp:
        # pyarrow writes no timestamps: the same rows with the same pyarrow give the same bytes.
        pq.write_table(table, tmp, compression="zstd")
    return rows
