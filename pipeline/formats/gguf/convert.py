"""Hugging Face folder -> unquantized GGUF, with llama.cpp's own convert_hf_to_gguf.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.progress import human_bytes, log, watch_growth
from pipeline.subprocess_tail import run_tool
from pipeline.toolchain import llama_cpp_tree

STAGE = "convert"


def _error_line(tail: list[str]) -> str:
    """The converter's own explanation: the last line that reads like an error."""
    for line in reversed(tail):
        if any(word in line for word in ("Error", "ERROR", "error", "not supported", "NotImplemented")):
            return line.removeprefix("ERROR:hf-to-gguf:").strip()
    return tail[-1].strip() if tail else "no output"


def convert_to_gguf(hf_dir: Path, outtype: str, out_path: Path, final_path: Path, expected: int) -> None:
    """Write `out_path` (a temporary path of the stage's output `final_path`, which the log names) of
    about `expected` bytes."""
    tree = llama_cpp_tree()
    architectures = json.loads((hf_dir / "config.json").read_text(encoding="utf-8")).get("architectures", [])
    log(STAGE, f"{hf_dir} ({', '.join(architectures) or 'no architecture named'}) -> {outtype} GGUF")
    with watch_growth(STAGE, f"writing {outtype} GGUF", out_path, expected):
        code, tail = run_tool(
            [sys.executable, str(tree / "convert_hf_to_gguf.py"), str(hf_dir),
             "--outtype", outtype, "--outfile", str(out_path)],
            # The converter's gguf-py from the same llama.cpp commit, not whatever `gguf` is installed;
            # its tqdm bar would print a line per update through the pipe, the watcher reports instead.
            env_extra={"PYTHONPATH": str(tree / "gguf-py"), "TQDM_DISABLE": "1"}, writes_into=final_path.parent,
        )
    if code != 0:
        raise ModelprepError(hf_dir / "config.json",
                             f"llama.cpp's converter failed for architecture {'/'.join(architectures) or '?'}: "
                             f"{_error_line(tail)}")
    log(STAGE, f"wrote {final_path} ({human_bytes(out_path.stat().st_size)})")
