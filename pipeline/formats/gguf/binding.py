"""Importing llama-cpp-python so that llama.cpp's libraries use the process's one C++ runtime.

Seen on a lent H200 (CUDA 13.0, GCC 13.3, llama-cpp-python 0.3.36 built there; README "Devices"):
the CUDA build's libggml-cuda.so carried its own copy of the C++ runtime (libstdc++.so.6 is not among
the libraries it needs) and exported its symbols, and libllama's iostream calls bound to that copy.
Where a C++ extension (torch, pyarrow) had loaded libstdc++.so.6 first, the two copies' locale state
disagreed and llama_model_load_from_file crashed (SIGSEGV in llama_model::print_info, under
`std::ostream::_M_insert<long>` of libggml-cuda.so); without such an extension it loaded and ran.
Loading libstdc++.so.6 into the global symbol scope first makes the dynamic linker resolve the C++
runtime symbols of every library loaded later to that one copy, as in a C++ program linked the usual
way.
"""

from __future__ import annotations

import ctypes
from functools import cache
from types import ModuleType

CXX_RUNTIME = "libstdc++.so.6"


@cache
def load_llama_cpp() -> ModuleType:
    """The llama_cpp module, imported after the C++ runtime was made global (once per process)."""
    try:
        ctypes.CDLL(CXX_RUNTIME, mode=ctypes.RTLD_GLOBAL)
    except OSError:
        pass  # no GNU C++ runtime on this system (macOS, musl): nothing to bind llama.cpp to
    import llama_cpp

    return llama_cpp
