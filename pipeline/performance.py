"""Speed and memory of one variant on the build device, measured in a process of its own.

Decoders: the reference's first window cut to `prompt_tokens` is the prompt; greedy decoding of
`new_tokens` gives the first-token latency (prompt processing plus one token) and the decode rate
of the rest. Encoders: latency of one sentence, and sentences per second over `sentences` of them.
Each figure is the median of `repeats` runs after one warm-up. Peak resident memory is that of
the measuring process (interpreter, runtime and model), which is why it runs as a child: the
evaluate stage's own memory (reference outputs, a second runtime) would otherwise count. Its RSS
just before the model is loaded (interpreter, reference inputs, runtime library) is kept too, so
peak minus baseline is what the model itself took.
Timings vary run to run, so they live in their own record, never in metrics or the package record;
the manifest carries them under `measured`, outside the package.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline.errors import ERROR_PREFIX, ModelprepError, run_guarded
from pipeline.evaluate import EvaluationSpec, PerformanceSpec, Reference
from pipeline.fileio import read_json, write_json
from pipeline.runtimes.base import Runtime

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _decoder(runtime: Runtime, reference: Reference, spec: PerformanceSpec) -> dict[str, Any]:
    prompt = reference.inputs[0][:spec.prompt_tokens]
    list(runtime.generate(prompt, 2))
    first, rates = [], []
    for _ in range(spec.repeats):
        start = time.perf_counter()
        tokens = runtime.generate(prompt, spec.new_tokens)
        next(tokens)
        first_done = time.perf_counter()
        rest = sum(1 for _ in tokens)
        rates.append(rest / (time.perf_counter() - first_done))
        first.append(first_done - start)
    return {"decode_tokens_per_s": round(statistics.median(rates), 1),
            "first_token_ms": round(1000 * statistics.median(first), 2),
            "new_tokens": spec.new_tokens, "prompt_tokens": len(prompt)}


def _encoder(runtime: Runtime, reference: Reference, spec: PerformanceSpec) -> dict[str, Any]:
    batch = list(reference.inputs[:spec.sentences])
    runtime.embed(batch[:1])
    single, rates = [], []
    for _ in range(spec.repeats):
        start = time.perf_counter()
        runtime.embed(batch[:1])
        single.append(time.perf_counter() - start)
        start = time.perf_counter()
        runtime.embed(batch)
        rates.append(len(batch) / (time.perf_counter() - start))
    return {"sentence_ms": round(1000 * statistics.median(single), 2),
            "sentences": len(batch), "sentences_per_s": round(statistics.median(rates), 1)}


def measure(runtime: Runtime, reference: Reference, spec: PerformanceSpec) -> dict[str, Any]:
    """Speed of an open runtime on the fixed workload."""
    return (_decoder if reference.kind == "decoder" else _encoder)(runtime, reference, spec)


def _measure_here(fmt_name: str, artifact: Path, reference_dir: Path, evaluation: EvaluationSpec,
                  spec: PerformanceSpec) -> dict[str, Any]:
    from pipeline import formats

    reference = Reference.load(reference_dir)
    fmt = formats.get(fmt_name)
    importlib.import_module(fmt.runtime_library)
    baseline = rss_bytes("VmRSS")  # the process with its runtime library, before the model is loaded
    runtime = fmt.open(artifact, reference.kind, evaluation)
    figures = measure(runtime, reference, spec)
    info = runtime.info()
    runtime.close()
    return {**figures, "baseline_rss_bytes": baseline, "peak_rss_bytes": peak_rss_bytes(),
            "repeats": spec.repeats, "runtime": info, "threads": evaluation.threads}


def rss_bytes(field: str) -> int | None:
    """A memory figure of this process from /proc/self/status (VmRSS now, VmHWM peak), where there is one."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    line = next(line for line in status.splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1]) * 1024


def peak_rss_bytes() -> int:
    """This process's peak resident memory. On Linux that is VmHWM: ru_maxrss survives exec, so a child
    would report at least the RSS its parent had when it was started."""
    peak = rss_bytes("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_in_child(fmt_name: str, artifact: Path, reference_dir: Path, evaluation: EvaluationSpec,
                     spec: PerformanceSpec) -> dict[str, Any]:
    settings = json.dumps({"evaluation": asdict(evaluation), "performance": asdict(spec)})
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "performance.json"
        # Run from the directory holding this very package, so the child imports the same code as
        # the parent, not a `pipeline/` that happens to sit in the working directory.
        child = subprocess.run([sys.executable, "-m", "pipeline.performance", fmt_name, str(artifact.resolve()),
                                str(reference_dir.resolve()), settings, str(out)], cwd=PACKAGE_ROOT,
                               stderr=subprocess.PIPE, text=True, errors="replace", check=False)
        if child.returncode != 0:
            errors = [line.removeprefix(ERROR_PREFIX) for line in child.stderr.splitlines()
                      if line.startswith(ERROR_PREFIX)]
            why = errors[-1] if errors else (f"killed by signal {-child.returncode}" if child.returncode < 0
                                             else f"exit status {child.returncode}: {child.stderr.strip()[-300:]}")
            raise ModelprepError(artifact, f"performance measurement failed: {why}")
        sys.stderr.write(child.stderr)
        return read_json(out)


def main() -> int:
    parser = argparse.ArgumentParser(description="measure one variant in this process; write its figures as JSON")
    for name in ("format", "artifact", "reference", "settings", "out"):
        parser.add_argument(name)
    args = parser.parse_args()
    settings = json.loads(args.settings)
    return run_guarded(lambda: write_json(args.out, _measure_here(
        args.format, Path(args.artifact), Path(args.reference), EvaluationSpec(**settings["evaluation"]),
        PerformanceSpec(**settings["performance"]))))


if __name__ == "__main__":
    sys.exit(main())
