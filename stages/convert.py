"""DVC stage: convert a Hugging Face folder to an unquantized GGUF (params: gguf.outtype)."""

import argparse
import sys
from pathlib import Path

from pipeline.cli import run_guarded
from pipeline.gguf.convert import convert_to_gguf
from pipeline.params import load_params

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--hf", type=Path, required=True, help="Hugging Face model folder")
parser.add_argument("--out", type=Path, required=True, help="output GGUF file")
args = parser.parse_args()
sys.exit(run_guarded(lambda: convert_to_gguf(args.hf, load_params().gguf.outtype, args.out)))
