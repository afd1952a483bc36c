"""`manifests/index.json` and `manifests/index.parquet`: one row per released variant, for registries.

Rows follow params.yaml's order (models, then GGUF and ONNX variants); a variant without a manifest
(not built, or not released) has no row. `pins` lists where the package is pinned
(`manifests/<model>/<variant>.pins.json`): "target status endpoint". `measured` holds, per host that
measured the package (`manifests/<model>/<variant>.measured.json`), the device, the runtime, its
headline rate (decode tokens per second for decoders, sentences per second for encoders) and the
peak resident memory of the measuring process.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipeline.fileio import atomic_path, write_json
from pipeline.layout import Layout
from pipeline.manifest.document import Manifest
from pipeline.measured import measurements
from pipeline.pin.pins_file import read_pins

if TYPE_CHECKING:
    from pipeline.params import Params

COLUMNS = {"model": pa.string(), "variant": pa.string(), "format": pa.string(), "kind": pa.string(),
           "precision": pa.string(), "package_cid_v1": pa.string(), "package_cid_v0": pa.string(),
           "bytes": pa.int64(), "files": pa.int64(), "manifest": pa.string(), "pins": pa.list_(pa.string()),
           "license": pa.string(), "max_context": pa.int64(), "vram_bytes": pa.int64(), "ram_bytes": pa.int64(),
           "measured": pa.list_(pa.struct([("host", pa.string()), ("device", pa.string()), ("runtime", pa.string()),
                                           ("rate", pa.float64()), ("peak_rss_bytes", pa.int64())]))}


def released_manifests(params: Params, layout: Layout) -> list[Path]:
    """The manifest of every released variant, in params.yaml's order."""
    paths = (layout.manifest(model, variant) for model in params.models for variant in params.variants)
    return [path for path in paths if path.is_file()]


def index_rows(params: Params, layout: Layout) -> list[dict[str, Any]]:
    rows = []
    for path in released_manifests(params, layout):
        manifest = Manifest.load(path)
        cid = manifest.content.cid_v1
        # What a registry filters on first: the longest context profile, fewest sequences, and its memory
        # (none in manifests older than record_version 6).
        longest = max(manifest.profiles, key=lambda p: (p.context, -p.parallel), default=None)
        rows.append({
            "bytes": manifest.size_bytes,
            "files": len(manifest.files),
            "format": manifest.format,
            "kind": manifest.kind.name,
            "license": manifest.data.get("identity", {}).get("license"),
            "manifest": path.as_posix(),
            "max_context": longest.context if longest else None,
            "measured": [{"device": e["device"], "host": e["host"], "rate": float(manifest.kind.rate(e["performance"])),
                          "peak_rss_bytes": e["performance"]["peak_rss_bytes"], "runtime": e["runtime"]}
                         for e in measurements(manifest)],
            "model": manifest.model,
            "package_cid_v0": manifest.content.cid_v0,
            "package_cid_v1": cid,
            # Pins of this very package (a pin of an earlier build's CID no longer describes it).
            "pins": [f"{p.target} {p.status} {p.endpoint}" for p in read_pins(path) if p.cid == cid],
            "precision": manifest["quantization"]["precision"],
            "ram_bytes": longest.ram_bytes if longest else None,
            "variant": manifest.variant,
            "vram_bytes": longest.vram_bytes if longest else None,
        })
    return rows


def write_index(params: Params, layout: Layout) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows = index_rows(params, layout)
    write_json(layout.index_json, {"variants": rows})
    table = pa.Table.from_pylist(rows, schema=pa.schema(list(COLUMNS.items())))
    with atomic_path(layout.index_parquet) as tmp:
        # pyarrow writes no timestamps: the same rows with the same pyarrow give the same bytes.
        pq.write_table(table, tmp, compression="zstd")
    return rows
