"""`make bench`: speed of the build's steps, each beside a baseline measured in the same run.

- quantization: llama.cpp's quantizer per variant, against copying the same bytes (read + write
  of the unquantized GGUF), the floor any file-to-file step pays;
- validation: tokens (or sentences) per second scored in llama.cpp per variant, against the fp32
  PyTorch reference on the same inputs.
Timings are printed, never asserted: these machines are shared and noisy.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from pipeline.evaluate import Reference, score
from pipeline.gguf.quantize import quantize_gguf
from pipeline.params import load_params
from pipeline.runtimes.torch_hf import TorchReference
from pipeline.validate import candidate_runtime

BUILD = Path("build")


def _copy_seconds(src: Path, scratch: Path) -> float:
    start = time.monotonic()
    shutil.copyfile(src, scratch / "copy.gguf")
    seconds = time.monotonic() - start
    (scratch / "copy.gguf").unlink()
    return seconds


def _scoring_seconds(runtime, reference: Reference) -> float:
    start = time.monotonic()
    score(runtime, reference, "bench")
    return time.monotonic() - start


def main() -> None:
    params = load_params()
    spec = params.evaluation
    quant_rows, speed_rows = [], []
    for model in params.models:
        base = BUILD / model / "gguf" / "base.gguf"
        reference = Reference.load(BUILD / model / "reference")
        unit = "tokens" if reference.kind == "decoder" else "sentences"
        count = int(reference.inputs.size) if reference.kind == "decoder" else len(reference.inputs)
        with tempfile.TemporaryDirectory(dir=BUILD) as scratch:
            copy = _copy_seconds(base, Path(scratch))
            for variant in params.gguf.variants:
                seconds = quantize_gguf(base, variant, Path(scratch) / f"{variant}.gguf", threads=spec.threads)
                quant_rows.append((model, variant, f"{base.stat().st_size / 2**20:.1f} MiB", f"{seconds:.3f}",
                                   f"{copy:.3f}", f"{seconds / copy:.1f}x"))
        torch_runtime = TorchReference(BUILD / model / "hf", reference.kind, "cpu", spec.threads,
                                       spec.max_sentence_tokens)
        baseline = count / _scoring_seconds(torch_runtime, reference)
        torch_runtime.close()
        speed_rows.append((model, "fp32 reference (PyTorch)", f"{baseline:.0f} {unit}/s", "1.00x"))
        for variant in params.gguf.variants:
            artifact = BUILD / model / "gguf" / f"{model}-{variant}.gguf"
            runtime = candidate_runtime(artifact, reference.kind, spec)
            rate = count / _scoring_seconds(runtime, reference)
            runtime.close()
            speed_rows.append((model, f"{variant} (llama.cpp, cpu)", f"{rate:.0f} {unit}/s", f"{rate / baseline:.2f}x"))
    _print("Quantization time against copying the same bytes",
           ("model", "variant", "input", "quantize s", "copy s", "ratio"), quant_rows)
    _print("Validation throughput against the PyTorch reference, same inputs, "
           f"{spec.threads} threads", ("model", "runtime", "rate", "vs reference"), speed_rows)


def _print(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    print(f"\n{title}")
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
