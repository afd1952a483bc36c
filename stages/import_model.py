"""DVC stage: resolve a model's source (folder, package or hub id), check it and copy it into the build."""

import argparse
import sys
from pathlib import Path

from pipeline.cli import run_guarded
from pipeline.params import load_params
from pipeline.sources import import_model

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--model", required=True, help="model name under `models` in params.yaml")
parser.add_argument("--out", type=Path, required=True, help="output Hugging Face folder")
parser.add_argument("--record", type=Path, required=True, help="output source record (JSON)")
args = parser.parse_args()
sys.exit(run_guarded(lambda: import_model(load_params().model(args.model), Path.cwd(), args.out, args.record)))
