"""The importance matrix of a model: llama.cpp's `llama-imatrix` run over the training split (never the
held-out text the variants are scored on), which variants with `imatrix: true` are quantized with.

llama-imatrix needs a causal language model (it aborts on an encoder's GGUF), so for an encoder the
stage records why there is none, and its variants are quantized without one (their record says so).
The file goes into every package quantized with it, so a registry can reproduce the quant.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pipeline.corpus import TRAIN_FILE, corpus_sha256, read_texts
from pipeline.errors import ModelprepError
from pipeline.fileio import atomic_path, read_json, sha256_file, write_json
from pipeline.formats.gguf.settings import ImatrixSettings
from pipeline.progress import log
from pipeline.subprocess_tail import run_tool
from pipeline.toolchain import llama_tool

STAGE = "imatrix"
IMATRIX_FILE, RECORD_FILE = "imatrix.gguf", "imatrix.json"
DATASET = "train.txt"  # the training split as llama-imatrix reads it (one text, its chunks in order)


def compute_imatrix(base: Path, kind: str, corpus_dir: Path, spec: ImatrixSettings, threads: int, gpu: bool,
                    out_dir: Path, wanted: bool = True) -> None:
    """Write `out_dir`/imatrix.gguf (decoders, when a variant wants one) and imatrix.json, which says how it
    was made or why there is none."""
    with atomic_path(out_dir, directory=True) as tmp:
        if not wanted:
            write_json(tmp / RECORD_FILE, {"computed": False, "reason": "no GGUF variant has imatrix: true"})
            log(STAGE, f"{base}: no importance matrix: no GGUF variant asks for one")
            return
        if kind != "decoder":
            write_json(tmp / RECORD_FILE, {"computed": False, "reason": "llama-imatrix runs causal language models; "
                                                                         f"this model is an {kind}"})
            log(STAGE, f"{base}: no importance matrix for an {kind}")
            return
        with tempfile.TemporaryDirectory() as scratch:
            # Run where the text is and name it relatively: the imatrix records the name it was given
            # (and every quant made with it, its dataset), which must not be a temporary path.
            (Path(scratch) / DATASET).write_text("\n\n".join(read_texts(corpus_dir, TRAIN_FILE)), encoding="utf-8")
            command = [str(llama_tool("llama-imatrix")), "-m", str(base.resolve()), "-f", DATASET, "-o",
                       str((tmp / IMATRIX_FILE).resolve()), "--chunks", str(spec.chunks), "-c", str(spec.context),
                       "-t", str(threads), "-ngl", "999" if gpu else "0", "--no-ppl"]
            log(STAGE, f"{base}: llama-imatrix over {spec.chunks} windows of {spec.context} training tokens "
                       f"({'CUDA' if gpu else 'CPU'})")
            code, tail = run_tool(command, quiet=True, cwd=Path(scratch), writes_into=tmp.parent)
        if code != 0 or not (tmp / IMATRIX_FILE).is_file():
            raise ModelprepError(base, f"llama-imatrix failed (exit {code}): {tail[-1] if tail else 'no output'}")
        write_json(tmp / RECORD_FILE, {
            "computed": True, "chunks": spec.chunks, "context": spec.context,
            "dataset": {"file": (corpus_dir / TRAIN_FILE).as_posix(), "sha256": corpus_sha256(corpus_dir, TRAIN_FILE)},
            "device": "cuda" if gpu else "cpu", "sha256": sha256_file(tmp / IMATRIX_FILE),
        })


def imatrix_of(imatrix_dir: Path) -> tuple[Path | None, dict[str, Any]]:
    """The model's importance matrix file (None where there is none) and its record."""
    record = read_json(imatrix_dir / RECORD_FILE)
    return (imatrix_dir / IMATRIX_FILE if record["computed"] else None), record
