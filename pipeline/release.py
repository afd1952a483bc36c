"""Release records: a variant that passes its gate gets its manifest, `build/<model>/release/<variant>.json`
(a DVC output, so the run-cache restores it), which `modelprep collect` copies to `manifests/<model>/`.

The record describes the variant; it goes into the variant's package (`package.py`) as
`modelprep.json`. The manifest is the record plus what must not change the package's bytes: its
content ids and CAR file, and the verification probes. It is checked against its published schema
(`manifests/schema/<record_version>.json`) before it is written.
Records hold no timestamps, no timings and sorted keys, so a rebuild of the same inputs produces the
same record (and the same CIDs) on any machine, and `git diff manifests/` shows exactly what a
rebuild changed. What varies run to run (speed, peak memory) is `modelprep measure`'s (`measure.py`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError
from pipeline.fileio import read_json, write_json
from pipeline.formats.base import Variant
from pipeline.gates import check_gate, gate_dict, gate_of, read_gates
from pipeline.hardware.gpus import fitting_gpus
from pipeline.hardware.memory import MemorySpec, memory_record, read_memory_spec
from pipeline.ipfs.car import CarWriter
from pipeline.kinds import KINDS
from pipeline.layout import Layout
from pipeline.manifest.deployment import DeploymentSpec
from pipeline.manifest.describe import architecture, file_role
from pipeline.manifest.document import CONTENT, PROBES
from pipeline.manifest.schema import check_manifest
from pipeline.package import V1, digest_files, package_content
from pipeline.progress import log
from pipeline.settings import Reader, SettingsFile
from pipeline.sources import ModelSpec, pick_model, read_models
from pipeline.toolchain import tool_versions

# 2: one record shape for every format; files lists every file a node downloads.
# 3: files are named as in the package; the artifact's build path is `artifact`; manifests add `content`.
# 4: `deployment`, the pre-deployment checklist from params.yaml.
# 5: every file's `role` and `media_type`; `architecture` from the model's config.json.
# 6: `identity`, `runtimes`, `memory`, `gpu_fit`; the manifest adds `probes` and `measured`.
# 7: `content.car` gives the CAR's size and blocks (it is written when a pin needs it, not at release).
# 8: no `measured`: speed and memory on a machine are the variant's measured file (`measured.py`).
RECORD_VERSION = 8
STAGE = "release"


@dataclass(frozen=True)
class ReleaseSpec:
    """params.yaml `release`: who the manifests name as builder, and the version they give each variant."""

    builder: str
    version: str


def read_release_spec(r: Reader, data: Any, where: str) -> ReleaseSpec:
    spec = r.section(data, where, ReleaseSpec)
    spec = ReleaseSpec(builder=spec.builder.strip(), version=spec.version.strip())
    if not spec.builder or not spec.version:
        raise r.error(f"'{where}.builder' and '{where}.version' must name who builds the release and its version")
    return spec


@dataclass(frozen=True)
class ReleaseSettings:
    """Everything of params.yaml one variant's release reads."""

    model: ModelSpec
    gate: Any
    deployment: DeploymentSpec
    release: ReleaseSpec
    memory: MemorySpec

    @classmethod
    def read(cls, settings: SettingsFile, model: str, variant: str) -> ReleaseSettings:
        return cls(pick_model(settings.read("models", read_models), model, settings.path),
                   gate_of(settings.read("gates", read_gates), variant), settings.read("deployment", DeploymentSpec),
                   settings.read("release", read_release_spec), settings.read("memory", read_memory_spec))


def identity(s: ReleaseSettings, record: dict) -> dict:
    """Who and what: the variant's name, family, version and license, the model it was made from, its builder."""
    origin = record["source"]["origin"]
    same_precision = record["quantization"]["precision"] == "float32"
    return {"base_model": {"id": origin["id"], "relation": "converted" if same_precision else "quantized",
                           "revision": origin.get("revision") or origin.get("package_version")},
            "built_by": s.release.builder, "family": record["architecture"]["model_type"],
            "license": s.model.license, "name": f"{record['model']}-{record['variant']}",
            "tool": f"modelprep {record['tools']['modelprep']}", "version": s.release.version}


def hardware(variant: Variant, s: ReleaseSettings, record: dict, weights: int, disk: int, artifact: Path,
             config: Path) -> dict:
    """What the variant asks of a machine: runtimes, memory per serving profile, and the GPUs that fit each."""
    runtimes = variant.format.requirements(record)
    memory = memory_record(variant.format.memory, record["kind"], record["architecture"], weights, disk, s.memory,
                           artifact, config)
    return {"gpu_fit": [{"context": p["context"], "gpus": fitting_gpus(p["vram_bytes"], runtimes),
                         "parallel": p["parallel"]} for p in memory["profiles"]],
            "memory": memory, "runtimes": runtimes}


def release_variant(variant: Variant, model: str, s: ReleaseSettings, layout: Layout) -> None:
    metrics_path, out = layout.metrics(model, variant.name), layout.release_record(model, variant.name)
    metrics, run = read_json(metrics_path), read_json(layout.evaluation(model, variant.name))
    source = read_json(layout.source_record(model))
    kind = KINDS[source["kind"]]
    checks = check_gate(variant.name, kind, s.gate, metrics["accuracy"])
    for check in checks:
        log(STAGE, f"{model} {variant.name}: {check.describe()}")
    failed = [c for c in checks if not c.passed]
    if failed:
        raise ModelprepError(metrics_path, f"{model} {variant.name} is not released: "
                                            + "; ".join(c.describe() for c in failed))
    fmt, artifact = variant.format, layout.artifact(model, variant.name)
    root = layout.root.resolve()
    files = fmt.files(artifact)
    car = CarWriter(None, V1.cid_version)  # counts the package's CAR, which `modelprep pin` writes if needed
    digests = digest_files(files, car.add, f"{model} {variant.name}: sha256 and CIDs")
    config = layout.hf(model) / "config.json"
    record = {
        "accuracy": {**metrics["accuracy"], "gate": gate_dict(s.gate, kind), "passed": True},
        "architecture": architecture(read_json(config)),
        "artifact": artifact.resolve().relative_to(root).as_posix(),
        "deployment": dataclasses.asdict(s.deployment),
        "device": run["device"],
        "evaluation": run["evaluation"],
        "files": [{"media_type": media_type, "path": name, "role": role, "sha256": digests[name].sha256,
                   "size": digests[name].size}
                  for name in files for role, media_type in [file_role(name, fmt)]],
        "format": fmt.name,
        fmt.name: fmt.describe(artifact),
        "quantization": fmt.quantization(variant, artifact),
        "kind": kind.name,
        "model": model,
        "record_version": RECORD_VERSION,
        "source": source,
        "tools": tool_versions(),
        "variant": variant.name,
    }
    weights = metrics["size"]["bytes"]
    disk = sum(entry["size"] for entry in record["files"])
    record.update(identity=identity(s, record), **hardware(variant, s, record, weights, disk, artifact, config))
    content = package_content(digests, record, car)
    manifest = {**record, CONTENT: content, PROBES: read_json(layout.probes(model, variant.name))}
    check_manifest(manifest, out)
    write_json(out, manifest)
    log(STAGE, f"{model} {variant.name}: released, record {out}; package {content['package']['cid_v1']} "
               f"({content['car']['blocks']} blocks); not pinned to any network")
