"""Release records: a variant that passes its gate gets `manifests/<model>/<variant>.json`.

Records hold no timestamps and sorted keys, so a rebuild that produces the same bytes produces
the same record, and `git diff manifests/` shows exactly what a rebuild changed.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.fileio import file_record, read_json, write_json
from pipeline.formats import format_of
from pipeline.gates import check_gate, gate_dict
from pipeline.params import Params
from pipeline.progress import log
from pipeline.toolchain import tool_versions

RECORD_VERSION = 2  # 2: one record shape for every format; files lists every file a node downloads
STAGE = "release"


def release_variant(params: Params, model: str, variant: str, artifact: Path, metrics_path: Path, run_path: Path,
                    source_record: Path, out: Path) -> None:
    metrics, run, source = read_json(metrics_path), read_json(run_path), read_json(source_record)
    kind = source["kind"]
    gate = params.gate(variant)
    checks = check_gate(variant, kind, gate, metrics["accuracy"])
    for check in checks:
        log(STAGE, f"{model} {variant}: {check.describe()}")
    failed = [c for c in checks if not c.passed]
    if failed:
        raise ModelprepError(metrics_path, f"{model} {variant} is not released: "
                                            + "; ".join(c.describe() for c in failed))
    fmt = format_of(params, variant)
    root = Path.cwd().resolve()
    record = {
        "accuracy": {**metrics["accuracy"], "gate": gate_dict(gate, kind), "passed": True},
        "device": run["device"],
        "evaluation": run["evaluation"],
        "files": [file_record(path.resolve(), root) for path in fmt.files(artifact)],
        "format": fmt.name,
        **fmt.record(params, variant, artifact),
        "kind": kind,
        "model": model,
        "record_version": RECORD_VERSION,
        "source": source,
        "tools": tool_versions(),
        "variant": variant,
    }
    write_json(out, record)
    log(STAGE, f"{model} {variant}: released, record {out}")
