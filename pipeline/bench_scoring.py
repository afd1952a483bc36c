"""Figures the benchmarks put side by side, each against a baseline measured in the same run:
- scoring: every variant's runtime against the reference (both count the tokens of every window) and,
  for GGUF, llama.cpp's own `llama-perplexity` on the same file, text, window and thread count: in
  tokens through the model, and in positions scored (it scores only the second half of each window,
  so computes half the output logits; modelprep scores every position);
- release: the release stages' time against `sha256sum` reading the same bytes once;
- calibration: each GGUF type quantized with the importance matrix against the same type without.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.corpus import EVAL_FILE, read_texts
from pipeline.evaluate import RECORD_FILE, EvaluationSpec
from pipeline.fileio import read_json
from pipeline.formats import read_variants
from pipeline.formats.gguf.files import gguf_file
from pipeline.kinds import kind_of
from pipeline.layout import Layout
from pipeline.settings import SettingsFile
from pipeline.toolchain import llama_tool

# Its log lines start with the time since it started, minutes.seconds.milliseconds.microseconds:
# 0.00.169.935 I perplexity: calculating perplexity over 33 chunks, n_ctx=128, batch_size=2048, n_seq=16
START = re.compile(r"(\d+)\.(\d+)\.(\d+)\.(\d+) I perplexity: calculating perplexity over (\d+) chunks, n_ctx=(\d+)")


def llama_perplexity_rate(gguf: Path, text: Path, window: int, chunks: int, threads: int) -> float:
    """Tokens per second llama-perplexity evaluates the file's first `chunks` windows at: from the line
    it logs before its first window to its exit (its closing log lines are written by a thread and
    are sometimes lost at exit), so loading and tokenizing are left out and its exit is counted in."""
    started = time.monotonic()
    result = subprocess.run([str(llama_tool("llama-perplexity")), "-m", str(gguf), "-f", str(text), "-c", str(window),
                             "--chunks", str(chunks), "-t", str(threads), "-tb", str(threads), "-ngl", "0"],
                            capture_output=True, text=True)
    wall = time.monotonic() - started
    found = START.search(result.stderr)
    if result.returncode != 0 or not found:
        tail = " | ".join(result.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"llama-perplexity failed on {gguf} (exit {result.returncode}): {tail}")
    minutes, seconds, millis, micros = (int(found.group(i)) for i in range(1, 5))
    before = 60 * minutes + seconds + millis / 1e3 + micros / 1e6
    return int(found.group(5)) * int(found.group(6)) / (wall - before)


def scoring_lines(project: Path, model: str, variants: tuple[str, ...]) -> list[str]:
    built, settings = Layout(project), SettingsFile.load(project / "params.yaml")
    spec = settings.read("evaluation", EvaluationSpec)
    formats = {name: v.format.name for name, v in read_variants(settings).items()}
    reference = read_json(built.reference(model) / RECORD_FILE)
    unit = "tokens" if reference["kind"] == "decoder" else "sentences"
    baseline = read_json(built.timing(model, "reference"))[f"scoring_{unit}_per_s"]
    lines = [f"scoring ({unit}/s, {spec.threads} threads): reference (PyTorch, {reference['runtime']['dtype']}) "
             f"{baseline:.1f}; 'scored x l-p': positions scored per second against llama-perplexity's "
             f"(it scores {spec.window - 1 - spec.window // 2} of each {spec.window}-token window, modelprep "
             f"{spec.window - 1})",
             f"{'variant':<16} {'runtime':>10} {'x ref':>7} {'llama-perplexity':>17} {'x l-p':>7} {'scored x l-p':>13}"]
    with tempfile.TemporaryDirectory() as scratch:
        text = Path(scratch) / "eval.txt"
        text.write_text("\n\n".join(read_texts(built.corpus, EVAL_FILE)), encoding="utf-8")
        for variant in variants:
            rate = read_json(built.timing(model, variant))[f"scoring_{unit}_per_s"]
            row = f"{variant:<16} {rate:>10.1f} {rate / baseline:>7.2f}"
            if formats[variant] == "gguf" and unit == "tokens":
                windows = -(-spec.min_tokens // (spec.window - 1))
                side = llama_perplexity_rate(gguf_file(built.artifact(model, variant)), text, spec.window, windows,
                                             spec.threads)
                scored = rate * (spec.window - 1) / (side * (spec.window - 1 - spec.window // 2))
                row += f" {side:>17.1f} {rate / side:>7.2f} {scored:>13.2f}"
            lines.append(row)
    return lines


def release_lines(project: Path, model: str, variants: tuple[str, ...], stage_rows: list[dict[str, Any]]) -> list[str]:
    """The release stages' total wall time against one `sha256sum` pass over the same files."""
    built = Layout(project)
    files = [p for v in variants for p in sorted(built.artifact(model, v).rglob("*")) if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    start = time.monotonic()
    subprocess.run(["sha256sum", *map(str, files)], check=True, capture_output=True)
    sha = time.monotonic() - start
    release = sum(r["wall_s"] for r in stage_rows if r["stage"] == "release")
    return [f"release: {release:.1f} s for {len(variants)} packages ({size / 2 ** 30:.2f} GiB: sha256, CIDv1, CIDv0 "
            f"and CAR size in one read per file, records, manifests) vs sha256sum of the same bytes {sha:.1f} s: "
            f"{release / max(sha, 1e-9):.2f}x"]


def calibration_lines(project: Path, model: str, variants: tuple[str, ...]) -> list[str]:
    """Each built GGUF variant quantized with the importance matrix beside the variant of the same type
    without one: their loss against the reference (mean KLD; 1 - mean cosine for encoders)."""
    built, chosen = Layout(project), read_variants(SettingsFile.load(project / "params.yaml"))
    gguf = [v for v in variants if chosen[v].format.name == "gguf"]
    pairs = [(plain, calibrated) for calibrated in gguf if chosen[calibrated].settings.imatrix
             for plain in gguf if not chosen[plain].settings.imatrix and not chosen[plain].settings.tensor_types
             and chosen[plain].settings.type == chosen[calibrated].settings.type]
    if not pairs:
        return []
    lines = [f"{'type':<8} {'without imatrix':>16} {'with imatrix':>13} {'change':>8}  ({model}, loss vs reference)"]
    for plain, calibrated in pairs:
        accuracy = [read_json(built.metrics(model, v))["accuracy"] for v in (plain, calibrated)]
        kind = kind_of(accuracy[0])
        without, with_ = (kind.loss(a) for a in accuracy)
        change = f"{100 * (with_ - without) / without:+.1f}%" if without else "-"
        lines.append(f"{chosen[plain].settings.type:<8} {without:>16.4g} {with_:>13.4g} {change:>8}  "
                     f"({kind.loss_metric})")
    return lines
