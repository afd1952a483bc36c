"""Validation stages: measure the reference once per model, then score each variant against it."""

from __future__ import annotations

from pathlib import Path

from pipeline.corpus import EVAL_FILE, corpus_sha256, read_texts, sentences
from pipeline.device import resolve_device
from pipeline.evaluate import Reference, decoder_windows, reference_outputs, score, write_reference
from pipeline.fileio import read_json, write_json
from pipeline.formats import format_of
from pipeline.params import EvaluationSpec, Params
from pipeline.performance import measure_in_child
from pipeline.probes.build import build_probes
from pipeline.progress import log
from pipeline.runtimes.torch_hf import TorchReference, torch_cuda_build


def build_reference(model: str, hf_dir: Path, source_record: Path, corpus_dir: Path, spec: EvaluationSpec,
                    out_dir: Path) -> None:
    stage = f"reference {model}"
    kind = read_json(source_record)["kind"]
    texts = read_texts(corpus_dir, EVAL_FILE)
    if kind == "decoder":
        inputs = decoder_windows(hf_dir, texts, spec.window, spec.min_tokens)
    else:
        inputs = sentences(texts, spec.sentences)
    device = resolve_device(spec.device, "PyTorch", torch_cuda_build())
    runtime = TorchReference(hf_dir, kind, device, spec.threads, spec.max_sentence_tokens)
    outputs = reference_outputs(runtime, kind, inputs, stage)
    record = {
        "corpus": {"file": (corpus_dir / EVAL_FILE).as_posix(), "sha256": corpus_sha256(corpus_dir, EVAL_FILE)},
        "parameters": runtime.parameters(),
        "runtime": runtime.info(),
    }
    runtime.close()
    write_reference(out_dir, kind, inputs, outputs, record)
    log(stage, f"{len(inputs)} {'windows' if kind == 'decoder' else 'sentences'} on {record['runtime']['device']}")


def validate_variant(params: Params, model: str, variant: str, artifact: Path, reference_dir: Path,
                     metrics_out: Path, run_out: Path, performance_out: Path, probes_out: Path) -> None:
    """Score the variant in its format's runtime; write its figures (numbers only, for `dvc metrics`),
    how they were measured, its verification probes, and its speed and memory on this device (a record
    of its own)."""
    stage = f"evaluate {model} {variant}"
    fmt, spec = format_of(params, variant), params.evaluation
    reference = Reference.load(reference_dir)
    runtime = fmt.open(artifact, reference.kind, spec)
    accuracy = score(runtime, reference, stage)
    run = {
        "device": {"candidate": runtime.info(), "reference": reference.record["runtime"]},
        "evaluation": {
            "corpus": reference.record["corpus"],
            "inputs": len(reference.inputs),
            "window": int(reference.inputs.shape[1]) if reference.kind == "decoder" else None,
        },
    }
    probes = build_probes(runtime, reference.kind, params.probes, spec.window)
    runtime.close()
    performance = measure_in_child(fmt.name, artifact, reference_dir, spec, params.performance)
    size = fmt.size(artifact, reference.record["parameters"])
    write_json(run_out, run)
    write_json(metrics_out, {"accuracy": accuracy, "size": size})
    write_json(performance_out, performance)
    write_json(probes_out, probes)
    log(stage, ", ".join(f"{k} {v}" for k, v in accuracy.items()))
    log(stage, ", ".join(f"{k} {v}" for k, v in performance.items() if k != "runtime"))
