"""Training and held-out evaluation text, from text every CPython installation ships.

`pydoc_data.topics` is the Python language reference as plain English prose (about 460 KB),
present wherever Python is, so the example model builds offline. The topics, sorted by name, are
cut into chunks of whole paragraphs; every Nth chunk is held out for evaluation and never seen in
training. (Whole topics vary too much in size to split by topic.)
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import ModelprepError
from pipeline.fileio import atomic_path, read_json, sha256_file, write_json
from pipeline.progress import log


@dataclass(frozen=True)
class CorpusSpec:
    """params.yaml `corpus`."""

    eval_every: int  # every Nth chunk is held out for evaluation


TRAIN_FILE = "train.parquet"
EVAL_FILE = "eval.parquet"
RECORD_FILE = "corpus.json"
CHUNK_CHARS = 2000
_SCHEMA = pa.schema([("topic", pa.string()), ("text", pa.string())])


_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def paragraphs(text: str) -> list[str]:
    return [p for p in _PARAGRAPH_BREAK.split(text.strip()) if p.strip()]


def _chunks(topics: dict[str, str]) -> list[tuple[str, list[str]]]:
    """(topic, paragraphs) chunks of about CHUNK_CHARS, cut at paragraph boundaries."""
    chunks = []
    for name, text in sorted(topics.items()):
        current: list[str] = []
        for paragraph in paragraphs(text):
            current.append(paragraph)
            if sum(len(p) for p in current) >= CHUNK_CHARS:
                chunks.append((name, current))
                current = []
        if current:
            chunks.append((name, current))
    return chunks


def split(topics: dict[str, str], eval_every: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train, held_out) rows. Topics repeat paragraphs (one section is quoted under several topic
    names), so a held-out paragraph is removed wherever it also stands in a training chunk."""
    chunks = _chunks(topics)
    held_out = [c for i, c in enumerate(chunks) if i % eval_every == eval_every - 1]
    seen = {p for _, ps in held_out for p in ps}
    train = []
    for i, (name, ps) in enumerate(chunks):
        if i % eval_every != eval_every - 1 and (kept := [p for p in ps if p not in seen]):
            train.append((name, "\n\n".join(kept)))
    return train, [(name, "\n\n".join(ps)) for name, ps in held_out]


def _write_parquet(rows: list[tuple[str, str]], path: Path) -> None:
    table = pa.Table.from_pylist([{"topic": t, "text": x} for t, x in rows], schema=_SCHEMA)
    pq.write_table(table, path, compression="zstd")


def build_corpus(out_dir: Path, eval_every: int) -> None:
    from pydoc_data.topics import topics

    train, held_out = split(topics, eval_every)
    with atomic_path(out_dir, directory=True) as tmp:
        _write_parquet(train, tmp / TRAIN_FILE)
        _write_parquet(held_out, tmp / EVAL_FILE)
        record = {
            "source": f"pydoc_data.topics of CPython {platform.python_version()}",
            "split": f"every {eval_every}th chunk of about {CHUNK_CHARS} characters is held out; "
                     "its paragraphs are removed from training",
            "files": {
                name: {"sha256": sha256_file(tmp / name), "chunks": len(rows), "chars": sum(len(x) for _, x in rows)}
                for name, rows in ((TRAIN_FILE, train), (EVAL_FILE, held_out))
            },
        }
        write_json(tmp / RECORD_FILE, record)
    for name, info in record["files"].items():
        log("corpus", f"{name}: {info['chunks']} chunks, {info['chars']} characters")


def read_texts(corpus_dir: Path, name: str) -> list[str]:
    """The texts of one split, checked against the sha256 recorded when the corpus was built."""
    path = corpus_dir / name
    expected = read_json(corpus_dir / RECORD_FILE)["files"][name]["sha256"]
    if not path.is_file():
        raise ModelprepError(path, "corpus file missing; run the corpus stage (dvc repro corpus)")
    if sha256_file(path) != expected:
        raise ModelprepError(path, f"sha256 differs from the one recorded in {RECORD_FILE}; rebuild the corpus")
    return pq.read_table(path).column("text").to_pylist()


def corpus_sha256(corpus_dir: Path, name: str) -> str:
    return read_json(corpus_dir / RECORD_FILE)["files"][name]["sha256"]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def sentences(texts: list[str], count: int, min_chars: int = 30, max_chars: int = 300) -> list[str]:
    """The first `count` prose sentences of `texts`, whitespace folded, code-like lines skipped."""
    found: list[str] = []
    for text in texts:
        for paragraph in _PARAGRAPH_BREAK.split(text):
            if paragraph.startswith((" ", "\t", ">>>")):
                continue  # indented blocks are code or grammar, not sentences
            for sentence in _SENTENCE_END.split(" ".join(paragraph.split())):
                if min_chars <= len(sentence) <= max_chars:
                    found.append(sentence)
                    if len(found) == count:
                        return found
    raise ModelprepError(EVAL_FILE, f"held-out text holds only {len(found)} sentences; {count} were asked for")
