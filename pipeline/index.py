"""`manifests/index.json` and `manifests/index.parquet`: one row per released variant, for registries.

Rows follow params.yaml's order (models, then GGUF and ONNX variants); a variant without a manifest
(not built, or not released) has no row. `pins` lists where the package is pinned
(`manifests/<model>/<variant>.pins.json`): "target status endpoint".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.fileio import atomic_path, read_json, write_json
from pipeline.package import CONTENT
from pipeline.params import Params
from pipeline.pin.pins_file import read_pins

COLUMNS = {"model": pa.string(), "variant": pa.string(), "format": pa.string(), "kind": pa.string(),
           "precision": pa.string(), "package_cid_v1": pa.string(), "package_cid_v0": pa.string(),
           "bytes": pa.int64(), "files": pa.int64(), "manifest": pa.string(), "pins": pa.list_(pa.string()),
           "license": pa.string(), "max_context": pa.int64(), "vram_bytes": pa.int64(), "ram_bytes": pa.int64()}


def released_manifests(params: Params, manifests: Path) -> list[Path]:
    """The manifest of every released variant, in params.yaml's order."""
    paths = (manifests / model / f"{variant}.json" for model in params.models for variant in params.variants)
    return [path for path in paths if path.is_file()]


def index_rows(params: Params, manifests: Path) -> list[dict[str, Any]]:
    rows = []
    for path in released_manifests(params, manifests):
        manifest = read_json(path)
        content = manifest[CONTENT]
        cid = content["package"]["cid_v1"]
        # What a registry filters on first: the longest context profile, fewest sequences, and its memory
        # (none in manifests older than record_version 6).
        profiles = manifest.get("memory", {}).get("profiles") or [{}]
        longest = max(profiles, key=lambda p: (p.get("context", 0), -p.get("parallel", 0)))
        rows.append({
            "bytes": sum(f["size"] for f in manifest["files"]),
            "files": len(manifest["files"]),
            "format": manifest["format"],
            "kind": manifest["kind"],
            "license": manifest.get("identity", {}).get("license"),
            "manifest": path.as_posix(),
            "max_context": longest.get("context"),
            "model": manifest["model"],
            "package_cid_v0": content["package"]["cid_v0"],
            "package_cid_v1": cid,
            # Pins of this very package (a pin of an earlier build's CID no longer describes it).
            "pins": [f"{p.target} {p.status} {p.endpoint}" for p in read_pins(path) if p.cid == cid],
            "precision": manifest["quantization"]["precision"],
            "ram_bytes": longest.get("ram_bytes"),
            "variant": manifest["variant"],
            "vram_bytes": longest.get("vram_bytes"),
        })
    return rows


def write_index(params: Params, manifests: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows = index_rows(params, manifests)
    write_json(manifests / "index.json", {"variants": rows})
    table = pa.Table.from_pylist(rows, schema=pa.schema(list(COLUMNS.items())))
    with atomic_path(manifests / "index.parquet") as tmp:
        # pyarrow writes no timestamps: the same rows with the same pyarrow give the same bytes.
        pq.write_table(table, tmp, compression="zstd")
    return rows
