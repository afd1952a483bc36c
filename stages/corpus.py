"""DVC stage: held-out evaluation text and training text, as Parquet."""

import argparse
import sys
from pathlib import Path

from pipeline.cli import run_guarded
from pipeline.corpus import build_corpus
from pipeline.params import load_params

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", type=Path, required=True, help="output folder")
args = parser.parse_args()
sys.exit(run_guarded(lambda: build_corpus(args.out, load_params().corpus.eval_every)))
