"""Validation stages: measure the reference once per model, then score each variant against it."""

from __future__ import annotations

from pathlib import Path

from pipeline.corpus import EVAL_FILE, corpus_sha256, read_texts, sentences
from pipeline.device import resolve_device
from pipeline.evaluate import Reference, decoder_windows, reference_outputs, score, write_reference
from pipeline.fileio import read_json, write_json
from pipeline.gguf.inspect import describe_gguf
from pipeline.params import EvaluationSpec
from pipeline.progress import log
from pipeline.runtimes.base import Runtime
from pipeline.runtimes.llama_cpp import LlamaCppRuntime, gpu_offload_supported
from pipeline.runtimes.torch_hf import TorchReference


def build_reference(model: str, hf_dir: Path, source_record: Path, corpus_dir: Path, spec: EvaluationSpec,
                    out_dir: Path) -> None:
    stage = f"reference {model}"
    kind = read_json(source_record)["kind"]
    texts = read_texts(corpus_dir, EVAL_FILE)
    if kind == "decoder":
        inputs = decoder_windows(hf_dir, texts, spec.window, spec.min_tokens)
    else:
        inputs = sentences(texts, spec.sentences)
    device = resolve_device(spec.device, "PyTorch")
    runtime = TorchReference(hf_dir, kind, device, spec.threads, spec.max_sentence_tokens)
    outputs = reference_outputs(runtime, kind, inputs, stage)
    record = {
        "corpus": {"file": (corpus_dir / EVAL_FILE).as_posix(), "sha256": corpus_sha256(corpus_dir, EVAL_FILE)},
        "runtime": runtime.info(),
    }
    runtime.close()
    write_reference(out_dir, kind, inputs, outputs, record)
    log(stage, f"{len(inputs)} {'windows' if kind == 'decoder' else 'sentences'} on {record['runtime']['device']}")


def candidate_runtime(artifact: Path, kind: str, spec: EvaluationSpec) -> Runtime:
    """The runtime that serves this artifact's format (GGUF today)."""
    n_ctx = spec.window if kind == "decoder" else spec.max_sentence_tokens
    device = resolve_device(spec.device, "llama.cpp", gpu_offload_supported())
    return LlamaCppRuntime(artifact, kind, device, spec.threads, n_ctx)


def validate_variant(model: str, variant: str, artifact: Path, reference_dir: Path, spec: EvaluationSpec,
                     metrics_out: Path, run_out: Path) -> None:
    """Write the variant's figures (numbers only, for `dvc metrics`) and how they were measured."""
    stage = f"evaluate {model} {variant}"
    reference = Reference.load(reference_dir)
    runtime = candidate_runtime(artifact, reference.kind, spec)
    accuracy = score(runtime, reference, stage)
    run = {
        "device": {"candidate": runtime.info(), "reference": reference.record["runtime"]},
        "evaluation": {
            "corpus": reference.record["corpus"],
            "inputs": len(reference.inputs),
            "window": spec.window if reference.kind == "decoder" else None,
        },
    }
    runtime.close()
    size = {"bits_per_weight": describe_gguf(artifact)["bits_per_weight"], "bytes": artifact.stat().st_size}
    write_json(run_out, run)
    write_json(metrics_out, {"accuracy": accuracy, "size": size})
    log(stage, ", ".join(f"{k} {v}" for k, v in accuracy.items()))
