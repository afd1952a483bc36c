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

from pipeline import formats
from pipeline.bench_scoring import calibration_lines
from pipeline.device import cuda_available, describe
from pipeline.evaluate import Reference, score
from pipeline.formats.base import QuantizeInputs
from pipeline.kinds import KINDS
from pipeline.layout import Layout
from pipeline.params import Params, load_params
from pipeline.performance import measure
from pipeline.runtimes.torch_hf import TorchReference

RESULTS = Path("benchmarks")
LAYOUT = Layout()


def _seconds(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _copy_seconds(src: Path, scratch: Path) -> float:
    target = scratch / "copy"
    seconds = _seconds(lambda: shutil.copytree(src, target) if src.is_dir() else shutil.copyfile(src, target))
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    return seconds


def _base_rows(params: Params, model: str, kind: str, scratch: Path) -> list[tuple[str, ...]]:
    """Each format's base build from the Hugging Face folder, against the first format's."""
    rows, first = [], None
    settings = {v.format.name: v.format_settings for v in params.variants.values()}
    for fmt in formats.formats():
        if fmt.name in settings:
            seconds = _seconds(lambda fmt=fmt: fmt.build_base(LAYOUT.hf(model), kind, settings[fmt.name],
                                                              scratch / fmt.name))
            first = first or seconds
            rows.append((model, f"{fmt.name} base", f"{seconds:.2f}", f"{seconds / first:.2f}x"))
    return rows


def _quantize_rows(params: Params, model: str, scratch: Path) -> list[tuple[str, ...]]:
    rows, copies = [], {}
    for variant in params.variants.values():
        fmt, out = variant.format.name, scratch / variant.name
        base = LAYOUT.base(model, fmt)
        copies[fmt] = copies.get(fmt) or _copy_seconds(base, scratch)
        inputs = QuantizeInputs(base, LAYOUT.corpus, LAYOUT.imatrix(model))
        seconds = variant.format.quantize(variant, model, inputs, out)
        rows.append((model, variant.name, f"{seconds:.3f}", f"{copies[fmt]:.3f}", f"{seconds / copies[fmt]:.1f}x"))
    return rows


def _devices(fmt: formats.Format) -> list[str]:
    """The CPU, and CUDA too where a GPU is visible and this format's runtime was built for it."""
    return ["cpu", "cuda"] if fmt.gpu_build() and cuda_available() else ["cpu"]


def _runtime_rows(params: Params, model: str) -> tuple[list, list]:
    spec = params.evaluation
    reference = Reference.load(LAYOUT.reference(model))
    kind = KINDS[reference.kind]
    unit = "tokens" if reference.kind == "decoder" else "sentences"
    count = int(reference.inputs.size) if reference.kind == "decoder" else len(reference.inputs)
    torch_runtime = TorchReference(LAYOUT.hf(model), reference.kind, "cpu", spec.threads, spec.max_sentence_tokens)
    scoring_base = count / _seconds(lambda: score(torch_runtime, reference, "bench"))
    figures = measure(torch_runtime, reference, params.performance)
    serving_base, serving_note = kind.rate(figures), kind.speed(figures)[1]
    torch_runtime.close()
    scoring = [(model, "fp32 reference (PyTorch, cpu)", f"{scoring_base:.0f} {unit}/s", "1.00x")]
    serving = [(model, "fp32 reference (PyTorch, cpu)", f"{serving_base:.0f} {kind.rate_unit}", serving_note, "1.00x",
                "")]
    for variant in params.variants.values():
        fmt, artifact = variant.format, LAYOUT.artifact(model, variant.name)
        cpu_rate = None
        for device in _devices(fmt):
            runtime = fmt.open(artifact, reference.kind, dataclasses.replace(spec, device=device))
            label = f"{variant.name} ({runtime.info()['runtime']}, {device})"
            if device == "cpu":
                rate = count / _seconds(lambda runtime=runtime: score(runtime, reference, "bench"))
                scoring.append((model, label, f"{rate:.0f} {unit}/s", f"{rate / scoring_base:.2f}x"))
            figures = measure(runtime, reference, params.performance)
            speed, note = kind.rate(figures), kind.speed(figures)[1]
            runtime.close()
            cpu_rate = speed if device == "cpu" else cpu_rate
            gpu_ratio = f"{speed / cpu_rate:.2f}x" if device == "cuda" else ""
            serving.append((model, label, f"{speed:.0f} {kind.rate_unit}", note, f"{speed / serving_base:.2f}x",
                            gpu_ratio))
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
        rows.append((f"CID {name}", f"{seconds:.2f}", f"{size / seconds / 2**20:.0f} MiB/s",
                     f"{baseline / seconds:.2f}x"))
    return rows


def main() -> None:
    params = load_params()
    base_rows, quant_rows, scoring_rows, serving_rows = [], [], [], []
    for model in params.models:
        kind = Reference.load(LAYOUT.reference(model)).kind
        with tempfile.TemporaryDirectory(dir=LAYOUT.model(model)) as scratch:
            base_rows += _base_rows(params, model, kind, Path(scratch))
        with tempfile.TemporaryDirectory(dir=LAYOUT.model(model)) as scratch:
            quant_rows += _quantize_rows(params, model, Path(scratch))
        scoring, serving = _runtime_rows(params, model)
        scoring_rows += scoring
        serving_rows += serving
    with tempfile.TemporaryDirectory(dir=LAYOUT.root / "build") as scratch:
        cid_rows = _cid_rows(Path(scratch))
    threads = params.evaluation.threads
    device = describe("cuda") if cuda_available() else describe("cpu")
    report = "\n".join([
        f"modelprep bench on {device}, {threads} threads",
        _table("Base artifact of each format from the Hugging Face folder, against the first format's",
               ("model", "step", "seconds", "ratio"), base_rows),
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
        "", "GGUF types quantized with the importance matrix against the same type without",
        *(line for model in params.models for line in calibration_lines(LAYOUT.root, model, tuple(params.variants))),
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
