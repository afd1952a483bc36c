"""DVC stage: size against accuracy loss for every variant of one model, for `dvc plots show`."""

import argparse
import sys
from pathlib import Path

from pipeline.cli import run_guarded
from pipeline.params import load_params
from pipeline.report import write_plot_data

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--model", required=True, help="model name under `models` in params.yaml")
parser.add_argument("--metrics", type=Path, required=True, help="the model's metrics folder")
parser.add_argument("--out", type=Path, required=True, help="output plot data (JSON)")
args = parser.parse_args()
sys.exit(run_guarded(lambda: write_plot_data(args.model, load_params().variants, args.metrics, args.out)))
