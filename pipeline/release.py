"""Release records: a variant that passes its gate gets `manifests/<model>/<variant>.json`.

Records hold no timestamps and sorted keys, so a rebuild that produces the same bytes produces
the same record, and `git diff manifests/` shows exactly what a rebuild changed.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.fileio import file_record, read_json, write_json
from pipeline.gates import check_gate, gate_dict
from pipeline.gguf.filetypes import file_type
from pipeline.gguf.inspect import describe_gguf
from pipeline.params import Params
from pipeline.progress import log
from pipeline.toolchain import tool_versions

RECORD_VERSION = 1
STAGE = "release"


def release_gguf(params: Params, model: str, variant: str, gguf: Path, metrics_path: Path, run_path: Path,
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
    ftype = file_type(variant)
    record = {
        "accuracy": {**metrics["accuracy"], "gate": gate_dict(gate, kind), "passed": True},
        "device": run["device"],
        "evaluation": run["evaluation"],
        "files": [file_record(gguf.resolve(), Path.cwd().resolve())],
        "format": "gguf",
        "gguf": describe_gguf(gguf),
        "kind": kind,
        "model": model,
        "quantization": {"base": params.gguf.outtype, "llama_ftype": ftype.ftype, "precision": ftype.precision,
                         "type": variant},
        "record_version": RECORD_VERSION,
        "source": source,
        "tools": tool_versions(),
        "variant": variant,
    }
    write_json(out, record)
    log(STAGE, f"{model} {variant}: released, record {out}")
