"""The evaluate stage: score one variant in its format's runtime against the model's stored reference."""

from __future__ import annotations

import time

from pipeline.evaluate import EvaluationSpec, Reference, score, scoring_rate
from pipeline.fileio import write_json
from pipeline.formats.base import Variant
from pipeline.layout import Layout
from pipeline.probes.build import ProbeSpec, build_probes
from pipeline.progress import log


def validate_variant(variant: Variant, model: str, evaluation: EvaluationSpec, probe_spec: ProbeSpec,
                     layout: Layout) -> None:
    """Score the variant in its format's runtime; write its figures (numbers only, for `dvc metrics`),
    how they were measured and its verification probes: the same bytes on every build of the same
    inputs. Its scoring rate on this machine goes to its timing file (`Layout.timing`); its serving
    speed and memory are `modelprep measure`'s."""
    stage = f"evaluate {model} {variant.name}"
    fmt, artifact, reference_dir = variant.format, layout.artifact(model, variant.name), layout.reference(model)
    reference = Reference.load(reference_dir)
    runtime = fmt.open(artifact, reference.kind, evaluation)
    start = time.monotonic()
    accuracy = score(runtime, reference, stage)
    scoring = scoring_rate(reference.kind, reference.inputs, time.monotonic() - start)
    run = {
        "device": {"candidate": runtime.info(), "reference": reference.record["runtime"]},
        "evaluation": {
            "corpus": reference.record["corpus"],
            "inputs": len(reference.inputs),
            "window": int(reference.inputs.shape[1]) if reference.kind == "decoder" else None,
        },
    }
    probes = build_probes(runtime, reference.kind, probe_spec, evaluation.window)
    runtime.close()
    size = fmt.size(artifact, reference.record["parameters"])
    write_json(layout.evaluation(model, variant.name), run)
    write_json(layout.metrics(model, variant.name), {"accuracy": accuracy, "size": size})
    write_json(layout.probes(model, variant.name), probes)
    write_json(layout.timing(model, variant.name), {**scoring, "runtime": run["device"]["candidate"]})
    log(stage, ", ".join(f"{k} {v}" for k, v in {**accuracy, **scoring}.items()))
