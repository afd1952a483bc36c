"""Release records: a variant that passes its gate gets `manifests/<model>/<variant>.json`.

The record describes the variant; it goes into the variant's package (`package.py`) as
`modelprep.json`, and the manifest is the record plus the package's content ids and CAR file,
checked against its published schema (`manifests/schema/<record_version>.json`) before it is written.
Records hold no timestamps and sorted keys, so a rebuild that produces the same bytes produces
the same record (and the same CIDs), and `git diff manifests/` shows exactly what a rebuild changed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.fileio import read_json, sha256_file, write_json
from pipeline.formats import format_of
from pipeline.gates import check_gate, gate_dict
from pipeline.manifest.describe import architecture, file_role
from pipeline.manifest.schema import check_manifest
from pipeline.package import CONTENT, package_content, package_files
from pipeline.params import Params
from pipeline.progress import log
from pipeline.toolchain import tool_versions

# 2: one record shape for every format; files lists every file a node downloads.
# 3: files are named as in the package; the artifact's build path is `artifact`; manifests add `content`.
# 4: `deployment`, the pre-deployment checklist from params.yaml.
# 5: every file's `role` and `media_type`; `architecture` from the model's config.json.
RECORD_VERSION = 5
STAGE = "release"


def release_variant(params: Params, model: str, variant: str, artifact: Path, metrics_path: Path, run_path: Path,
                    source_record: Path, config: Path, out: Path, car: Path) -> None:
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
    files = package_files(artifact, fmt.files(artifact))
    record = {
        "accuracy": {**metrics["accuracy"], "gate": gate_dict(gate, kind), "passed": True},
        "architecture": architecture(read_json(config)),
        "artifact": artifact.resolve().relative_to(root).as_posix(),
        "deployment": dataclasses.asdict(params.deployment),
        "device": run["device"],
        "evaluation": run["evaluation"],
        "files": [{"media_type": media_type, "path": name, "role": role, "sha256": sha256_file(path),
                   "size": path.stat().st_size}
                  for name, path in files.items() for role, media_type in [file_role(name)]],
        "format": fmt.name,
        **fmt.record(params, variant, artifact),
        "kind": kind,
        "model": model,
        "record_version": RECORD_VERSION,
        "source": source,
        "tools": tool_versions(),
        "variant": variant,
    }
    content = package_content(files, record, car, root)
    manifest = {**record, CONTENT: content}
    check_manifest(manifest, out)
    write_json(out, manifest)
    log(STAGE, f"{model} {variant}: released, record {out}; package {content['package']['cid_v1']} written to "
               f"{car} ({content['car']['blocks']} blocks); not pinned to any network")
