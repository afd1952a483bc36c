"""`make bench`: speed of the build's steps, each beside a baseline measured in the same run.

- base artifacts: ONNX export (optimum) against GGUF conversion (llama.cpp) of the same model;
- quantization: each variant's quantizer against copying the same bytes (read + write of the
  unquantized base), the floor any file-to-file step pays;
- validation: tokens (or sentences) per second scored per variant, against the fp32 PyTorch
  reference on the same inputs;
- serving: greedy decode tokens per second and first-token latency on the fixed prompt of
  params.yaml `performance` (sentences per second for encoders), against PyTorch; where a GPU is
  usable, each variant runs on the CPU and on CUDA and the CUDA/CPU ratio is printed;
- content ids: the CID of a 1 GiB file under each Kubo profile, against plain sha256 of the same bytes.
Timings are printed and saved under benchmarks/ (one file per device), never asserted: these
machines are shared and noisy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import tempfile
import time
from pathlib import Path

from pipeline.device import cuda_available, describe
from pipeline.evaluate import Reference, score
from pipeline.formats import format_of
from pipeline.gguf.convert import convert_to_gguf
from pipeline.gguf.quantize import quantize_gguf
from pipeline.onnx.export import export_onnx
from pipeline.onnx.quantize import quantize_onnx
from pipeline.params import Params, load_params
from pipeline.performance import measure, summary
from pipeline.runtimes.torch_hf import TorchReference

BUILD = Path("build")
RESULTS = Path("benchmarks")


def _seconds(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _copy_seconds(src: Path, scratch: Path) -> float:
    target = scratch / "copy"
    seconds = _seconds(lambda: shutil.copytree(src, target) if src.is_dir() else shutil.copyfile(src, target))
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    return seconds


def artifact_path(params: Params, model: str, variant: str) -> Path:
    if params.format_of(variant) == "gguf":
        return BUILD / model / "gguf" / f"{model}-{variant}.gguf"
    return BUILD / model / "onnx" / variant


def _base_rows(params: Params, model: str, kind: str, scratch: Path) -> list[tuple[str, ...]]:
    hf = BUILD / model / "hf"
    convert = _seconds(lambda: convert_to_gguf(hf, params.gguf.outtype, scratch / "base.gguf"))
    export = _seconds(lambda: export_onnx(hf, kind, params.onnx.opset, params.onnx.external_data_min_mib * 2**20,
                                          scratch / "onnx-base"))
    return [(model, "GGUF conversion (llama.cpp)", f"{convert:.2f}", "1.00x"),
            (model, "ONNX export (optimum-onnx)", f"{export:.2f}", f"{export / convert:.2f}x")]


def _quantize_rows(params: Params, model: str, scratch: Path) -> list[tuple[str, ...]]:
    rows = []
    gguf_base, onnx_base = BUILD / model / "gguf" / "base.gguf", BUILD / model / "onnx" / "base"
    copies = {"gguf": _copy_seconds(gguf_base, scratch), "onnx": _copy_seconds(onnx_base, scratch)}
    for variant in params.variants:
        fmt = params.format_of(variant)
        out = scratch / variant
        if fmt == "gguf":
            seconds = quantize_gguf(gguf_base, variant, out, threads=params.evaluation.threads)
        else:
            seconds = quantize_onnx(onnx_base, variant, params.onnx, BUILD / "corpus", out)
        rows.append((model, variant, f"{seconds:.3f}", f"{copies[fmt]:.3f}", f"{seconds / copies[fmt]:.1f}x"))
    return rows


def _devices(fmt_name: str) -> list[str]:
    """The CPU, and CUDA too where a GPU is visible and this format's runtime was built for it."""
    from pipeline.runtimes.llama_cpp import gpu_offload_supported
    from pipeline.runtimes.onnxruntime import cuda_provider_built

    built_for_gpu = gpu_offload_supported() if fmt_name == "gguf" else cuda_provider_built()
    return ["cpu", "cuda"] if built_for_gpu and cuda_available() else ["cpu"]


def _rate(figures: dict) -> tuple[float, str]:
    """The number to compare (tokens or sentences per second) and the latency text beside it."""
    return figures.get("decode_tokens_per_s", figures.get("sentences_per_s")), summary(figures)[1]


def _runtime_rows(params: Params, model: str) -> tuple[list, list]:
    spec = params.evaluation
    reference = Reference.load(BUILD / model / "reference")
    unit = "tokens" if reference.kind == "decoder" else "sentences"
    count = int(reference.inputs.size) if reference.kind == "decoder" else len(reference.inputs)
    torch_runtime = TorchReference(BUILD / model / "hf", reference.kind, "cpu", spec.threads, spec.max_sentence_tokens)
    scoring_base = count / _seconds(lambda: score(torch_runtime, reference, "bench"))
    serving_base, serving_note = _rate(measure(torch_runtime, reference, params.performance))
    torch_runtime.close()
    scoring = [(model, "fp32 reference (PyTorch, cpu)", f"{scoring_base:.0f} {unit}/s", "1.00x")]
    speed_unit = "tok/s" if reference.kind == "decoder" else "sent/s"
    serving = [(model, "fp32 reference (PyTorch, cpu)", f"{serving_base:.0f} {speed_unit}", serving_note, "1.00x", "")]
    for variant in params.variants:
        fmt = format_of(params, variant)
        artifact = artifact_path(params, model, variant)
        cpu_rate = None
        for device in _devices(fmt.name):
            runtime = fmt.open(artifact, reference.kind, dataclasses.replace(spec, device=device))
            label = f"{variant} ({runtime.info()['runtime']}, {device})"
            if device == "cpu":
                rate = count / _seconds(lambda runtime=runtime: score(runtime, reference, "bench"))
                scoring.append((model, label, f"{rate:.0f} {unit}/s", f"{rate / scoring_base:.2f}x"))
            speed, note = _rate(measure(runtime, reference, params.performance))
            runtime.close()
            cpu_rate = speed if device == "cpu" else cpu_rate
            gpu_ratio = f"{speed / cpu_rate:.2f}x" if device == "cuda" else ""
            serving.append((model, label, f"{speed:.0f} {speed_unit}", note, f"{speed / serving_base:.2f}x", gpu_ratio))
    return scoring, serving


def _cid_rows(scratch: Path) -> list[tuple[str, ...]]:
    from pipeline.fileio import sha256_file
    from pipeline.ipfs.directory import add_file
    from pipeline.ipfs.profiles import PROFILES

    data = scratch / "1GiB.bin"
    with open(data, "wb") as handle:
        for index in range(1024):
            handle.write(hashlib.sha256(str(index).encode()).digest() * (2**20 // 32))
    size = data.stat().st_size
    baseline = _seconds(lambda: sha256_file(data))
    rows = [("sha256 (hashlib)", f"{baseline:.2f}", f"{size / baseline / 2**20:.0f} MiB/s", "1.00x")]
    for name, profile in PROFILES.items():
        seconds = _seconds(lambda profile=profile: add_file(data, profile))
        rows.append((f"CID {name}", f"{seconds:.2f}", f"{size / seconds / 2**20:.0f} MiB/s", f"{baseline / seconds:.2f}x"))
    return rows


def main() -> None:
    params = load_params()
    base_rows, quant_rows, scoring_rows, serving_rows = [], [], [], []
    for model in params.models:
        kind = Reference.load(BUILD / model / "reference").kind
        with tempfile.TemporaryDirectory(dir=BUILD) as scratch:
            base_rows += _base_rows(params, model, kind, Path(scratch))
        with tempfile.TemporaryDirectory(dir=BUILD) as scratch:
            quant_rows += _quantize_rows(params, model, Path(scratch))
        scoring, serving = _runtime_rows(params, model)
        scoring_rows += scoring
        serving_rows += serving
    with tempfile.TemporaryDirectory(dir=BUILD) as scratch:
        cid_rows = _cid_rows(Path(scratch))
    threads = params.evaluation.threads
    device = describe("cuda") if cuda_available() else describe("cpu")
    report = "\n".join([
        f"modelprep bench on {device}, {threads} threads",
        _table("Base artifact from the Hugging Face folder: ONNX export against GGUF conversion",
               ("model", "step", "seconds", "vs GGUF"), base_rows),
        _table("Quantization time against copying the same bytes (the unquantized base)",
               ("model", "variant", "quantize s", "copy s", "ratio"), quant_rows),
        _table("Validation throughput against the PyTorch reference, same inputs",
               ("model", "runtime", "rate", "vs reference"), scoring_rows),
        _table(f"Serving speed on the fixed workload (prompt {params.performance.prompt_tokens} + "
               f"{params.performance.new_tokens} tokens; {params.performance.sentences} sentences), median of "
               f"{params.performance.repeats}", ("model", "runtime", "rate", "latency", "vs PyTorch", "CUDA vs CPU"),
               serving_rows),
        _table("Content ids of a 1 GiB file against plain sha256 of the same bytes (page cache warm)",
               ("hash", "seconds", "rate", "speed vs sha256"), cid_rows),
    ])
    print(report)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{re.sub(r'[^a-z0-9]+', '-', device.lower()).strip('-')}.txt"
    path.write_text(report + "\n", encoding="utf-8")
    print(f"\nsaved to {path}")


def _table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = ["", title]
    for row in (header, tuple("-" * w for w in widths), *rows):
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


if __name__ == "__main__":
    main()
