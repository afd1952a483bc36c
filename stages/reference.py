"""DVC stage: run the original model in PyTorch fp32 on the held-out inputs, once per model."""

import argparse
import sys
from pathlib import Path

from pipeline.cli import run_guarded
from pipeline.params import load_params
from pipeline.validate import build_reference

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--model", required=True, help="model name under `models` in params.yaml")
parser.add_argument("--hf", type=Path, required=True, help="imported Hugging Face folder")
parser.add_argument("--source", type=Path, required=True, help="source record from the import stage")
parser.add_argument("--corpus", type=Path, required=True, help="corpus folder (held-out split)")
parser.add_argument("--out", type=Path, required=True, help="output reference folder")
args = parser.parse_args()
sys.exit(run_guarded(lambda: build_reference(args.model, args.hf, args.source, args.corpus,
                                             load_params().evaluation, args.out)))
