"""llama.cpp is imported with the C++ runtime in the global symbol scope (pipeline/formats/gguf/binding.py).

The crash it prevents needs llama.cpp's CUDA build (tests/test_gpu.py loads it after torch and pyarrow);
what runs here is the condition the fix rests on, in fresh processes: a C++ extension loaded first
leaves libstdc++ out of the global scope, and load_llama_cpp puts it there before llama.cpp loads.
"""

import subprocess
import sys

# std::ostream::_M_insert<long>, the libstdc++ symbol the H200 crash went through.
PROBE = """
import ctypes, sys
import pyarrow.parquet
def global_scope_has_it():
    try:
        getattr(ctypes.CDLL(None), "_ZNSo9_M_insertIlEERSoT_")
        return True
    except AttributeError:
        return False
before = global_scope_has_it()
if sys.argv[1] == "binding":
    from pipeline.formats.gguf.binding import load_llama_cpp
    load_llama_cpp()
else:
    import llama_cpp
print(before, global_scope_has_it(), "llama_cpp" in sys.modules)
"""


def _scope(how: str) -> str:
    return subprocess.run([sys.executable, "-c", PROBE, how], capture_output=True, text=True, check=True).stdout.strip()


def test_plain_import_after_a_cxx_extension_leaves_libstdcxx_out_of_the_global_scope():
    assert _scope("plain") == "False False True"


def test_load_llama_cpp_makes_libstdcxx_global_before_llama_cpp_loads():
    assert _scope("binding") == "False True True"
