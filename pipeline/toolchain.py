"""Where the pinned llama.cpp tools live, and the versions of every tool a build used.

The converter (`convert_hf_to_gguf.py`, its `conversion/` package and `gguf-py`) is taken from the
llama-cpp-python source distribution that the runtime itself is built from, so conversion,
quantization and validation all come from one llama.cpp commit. `make setup` unpacks it under
`.tools/`; MODELPREP_LLAMA_CPP_TREE points elsewhere if needed.
"""

from __future__ import annotations

import os
import platform
import re
from functools import cache
from importlib import metadata
from pathlib import Path

import pipeline
from pipeline.errors import ModelprepError

REPO_ROOT = Path(__file__).resolve().parent.parent
LLAMA_CPP_PYTHON_VERSION = "0.3.36"


def llama_cpp_tree() -> Path:
    default = REPO_ROOT / ".tools" / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor" / "llama.cpp"
    tree = Path(os.environ.get("MODELPREP_LLAMA_CPP_TREE", default))
    if not (tree / "convert_hf_to_gguf.py").is_file():
        raise ModelprepError(tree, "llama.cpp source tree with convert_hf_to_gguf.py not found; run `make setup`")
    return tree


def llama_tool(name: str) -> Path:
    """One of llama.cpp's command-line tools (llama-perplexity, llama-imatrix...), built from the same
    tree with the same flags as the runtime by `make llama-tools`."""
    path = REPO_ROOT / ".tools" / "llama-bin" / name
    if not os.access(path, os.X_OK):
        raise ModelprepError(path, f"llama.cpp's {name} is not built; run `make llama-tools`")
    return path


@cache
def llama_cpp_commit() -> str:
    """The llama.cpp commit the pinned llama-cpp-python release vendors, from its changelog."""
    changelog = llama_cpp_tree().parent.parent / "CHANGELOG.md"
    text = changelog.read_text(encoding="utf-8")
    section = text.split(f"## [{LLAMA_CPP_PYTHON_VERSION}]", 1)[-1].split("\n## [", 1)[0]
    match = re.search(r"llama\.cpp@([0-9a-f]{7,40})", section)
    if not match:
        raise ModelprepError(changelog, f"no llama.cpp commit named for release {LLAMA_CPP_PYTHON_VERSION}")
    return match.group(1)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def tool_versions() -> dict[str, str]:
    """Every tool whose version can change the bytes or the figures of a build."""
    return {
        "gguf-py": _version("gguf"),
        "llama-cpp-python": _version("llama_cpp_python"),
        "llama.cpp": llama_cpp_commit(),
        "modelprep": pipeline.__version__,
        "numpy": _version("numpy"),
        "onnx": _version("onnx"),
        "onnxruntime": _version("onnxruntime") if _version("onnxruntime-gpu") == "not installed"
        else f"{_version('onnxruntime-gpu')} (onnxruntime-gpu)",
        "onnxruntime-genai": _version("onnxruntime-genai") if _version("onnxruntime-genai-cuda") == "not installed"
        else f"{_version('onnxruntime-genai-cuda')} (onnxruntime-genai-cuda)",
        "optimum-onnx": _version("optimum-onnx"),
        "python": platform.python_version(),
        "safetensors": _version("safetensors"),
        "sentencepiece": _version("sentencepiece"),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
    }
