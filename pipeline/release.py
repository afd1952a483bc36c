"""Release records: a variant that passes its gate gets `manifests/<model>/<variant>.json`.

The record describes the variant; it goes into the variant's package (`package.py`) as
`modelprep.json`. The manifest is the record plus what must not change the package's bytes: its
content ids and CAR file, the verification probes, and the figures measured on the build device
(speed and peak memory vary run to run). It is checked against its published schema
(`manifests/schema/<record_version>.json`) before it is written.
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
from pipeline.hardware.gpus import fitting_gpus
from pipeline.hardware.memory import measured_memory, memory_record
from pipeline.hardware.runtimes import runtime_requirements
from pipeline.manifest.describe import architecture, file_role
from pipeline.manifest.schema import check_manifest
from pipeline.package import CONTENT, MEASURED, PROBES, package_content, package_files
from pipeline.params import Params
from pipeline.progress import log
from pipeline.toolchain import tool_versions

# 2: one record shape for every format; files lists every file a node downloads.
# 3: files are named as in the package; the artifact's build path is `artifact`; manifests add `content`.
# 4: `deployment`, the pre-deployment checklist from params.yaml.
# 5: every file's `role` and `media_type`; `architecture` from the model's config.json.
# 6: `identity`, `runtimes`, `memory`, `gpu_fit`; the manifest adds `probes` and `measured`.
RECORD_VERSION = 6
STAGE = "release"


def identity(params: Params, model: str, variant: str, record: dict) -> dict:
    """Who and what: the variant's name, family, version and license, the model it was made from, its builder."""
    origin = record["source"]["origin"]
    same_precision = record["quantization"]["precision"] == "float32"
    return {"base_model": {"id": origin["id"], "relation": "converted" if same_precision else "quantized",
                           "revision": origin.get("revision") or origin.get("package_version")},
            "built_by": params.release.builder, "family": record["architecture"]["model_type"],
            "license": params.model(model).license, "name": f"{model}-{variant}",
            "tool": f"modelprep {record['tools']['modelprep']}", "version": params.release.version}


def hardware(params: Params, record: dict, weights: int, disk: int, config: Path) -> dict:
    """What the variant asks of a machine: runtimes, memory per serving profile, and the GPUs that fit each."""
    runtimes = runtime_requirements(record)
    memory = memory_record(record["format"], record["kind"], record["architecture"], weights, disk, params.memory,
                           config)
    return {"gpu_fit": [{"context": p["context"], "gpus": fitting_gpus(p["vram_bytes"], runtimes),
                         "parallel": p["parallel"]} for p in memory["profiles"]],
            "memory": memory, "runtimes": runtimes}


def measured(params: Params, record: dict, weights: int, performance_path: Path) -> dict:
    """Speed and memory on the build device, with the memory estimate for the same workload beside it."""
    performance = read_json(performance_path)
    figures = {k: v for k, v in performance.items() if k not in ("runtime", "threads", "repeats")}
    return {"device": performance["runtime"]["device"], "memory": measured_memory(
                record["format"], record["kind"], record["architecture"], weights, performance, params.evaluation,
                params.performance, performance_path),
            "performance": figures, "repeats": performance["repeats"], "runtime": performance["runtime"]["runtime"],
            "threads": performance["threads"]}


def release_variant(params: Params, model: str, variant: str, artifact: Path, metrics_path: Path, run_path: Path,
                    source_record: Path, config: Path, performance_path: Path, probes_path: Path, out: Path,
                    car: Path) -> None:
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
    weights = metrics["size"]["bytes"]
    disk = sum(entry["size"] for entry in record["files"])
    record.update(identity=identity(params, model, variant, record), **hardware(params, record, weights, disk, config))
    content = package_content(files, record, car, root)
    manifest = {**record, CONTENT: content, PROBES: read_json(probes_path),
                MEASURED: measured(params, record, weights, performance_path)}
    check_manifest(manifest, out)
    write_json(out, manifest)
    log(STAGE, f"{model} {variant}: released, record {out}; package {content['package']['cid_v1']} written to "
               f"{car} ({content['car']['blocks']} blocks); not pinned to any network")
