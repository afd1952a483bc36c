"""DVC stage: quantize the unquantized GGUF to one llama.cpp type with llama.cpp's quantizer."""

import argparse
import os
import sys
from pathlib import Path

from pipeline.cli import run_guarded
from pipeline.gguf.quantize import quantize_gguf

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--base", type=Path, required=True, help="unquantized GGUF from the convert stage")
parser.add_argument("--type", required=True, help="llama.cpp type name, e.g. Q8_0, Q4_0, Q4_K_M")
parser.add_argument("--out", type=Path, required=True, help="output GGUF file")
args = parser.parse_args()
# The thread count does not change the output: llama.cpp splits work by rows.
sys.exit(run_guarded(lambda: quantize_gguf(args.base, args.type, args.out, os.cpu_count() or 1)))
