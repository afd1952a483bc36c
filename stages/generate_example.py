"""DVC stage: generate and train the tiny-llama example decoder (params: examples.tiny-llama)."""

import argparse
import sys
from pathlib import Path

from pipeline.cli import run_guarded
from pipeline.examples.tiny_llama import build_tiny_llama
from pipeline.params import load_params

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--corpus", type=Path, required=True, help="corpus folder (training split)")
parser.add_argument("--out", type=Path, required=True, help="output Hugging Face model folder")
args = parser.parse_args()
sys.exit(run_guarded(lambda: build_tiny_llama(load_params().tiny_llama, args.corpus, args.out)))
