"""The reference stage: the original model in PyTorch float32 on the held-out inputs, once per model,
its weights streamed from the checkpoint so any size fits; every variant is scored against what it
stores (`evaluate.Reference`)."""

from __future__ import annotations

from pipeline.corpus import EVAL_FILE, corpus_sha256, read_texts, sentences
from pipeline.device import resolve_device
from pipeline.evaluate import EvaluationSpec, decoder_windows, write_reference
from pipeline.fileio import read_json, write_json
from pipeline.layout import Layout
from pipeline.progress import log
from pipeline.runtimes.torch_hf import TorchReference, torch_cuda_build


def build_reference(model: str, spec: EvaluationSpec, layout: Layout) -> None:
    stage = f"reference {model}"
    hf_dir, corpus_dir = layout.hf(model), layout.corpus
    kind = read_json(layout.source_record(model))["kind"]
    texts = read_texts(corpus_dir, EVAL_FILE)
    if kind == "decoder":
        inputs = decoder_windows(hf_dir, texts, spec.window, spec.min_tokens)
    else:
        inputs = sentences(texts, spec.sentences)
    device = resolve_device(spec.device, "PyTorch", torch_cuda_build())
    runtime = TorchReference(hf_dir, kind, device, spec.threads, spec.max_sentence_tokens, streamed=True)
    record = {
        "corpus": {"file": (corpus_dir / EVAL_FILE).as_posix(), "sha256": corpus_sha256(corpus_dir, EVAL_FILE)},
        "parameters": runtime.parameters(),
        "runtime": runtime.info(),
    }
    rate = write_reference(layout.reference(model), runtime, kind, inputs, record, stage)
    runtime.close()
    write_json(layout.timing(model, "reference"), {**rate, "runtime": record["runtime"]})
    log(stage, f"{len(inputs)} {'windows' if kind == 'decoder' else 'sentences'} on {record['runtime']['device']}, "
               + ", ".join(f"{k} {v}" for k, v in rate.items()))
