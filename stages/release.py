"""DVC stage: check a variant's metrics against its gate; only if it passes, write its release manifest and
the CAR of its package."""

import argparse
import sys
from pathlib import Path

from pipeline.cli import run_guarded
from pipeline.params import load_params
from pipeline.release import release_variant

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--model", required=True, help="model name under `models` in params.yaml")
parser.add_argument("--variant", required=True, help="variant name, e.g. Q4_0")
parser.add_argument("--artifact", type=Path, required=True, help="the variant: a GGUF file or an ONNX directory")
parser.add_argument("--metrics", type=Path, required=True, help="metrics from the evaluate stage")
parser.add_argument("--run", type=Path, required=True, help="measurement record from the evaluate stage")
parser.add_argument("--source", type=Path, required=True, help="source record from the import stage")
parser.add_argument("--config", type=Path, required=True, help="the model's config.json (architecture figures)")
parser.add_argument("--performance", type=Path, required=True, help="speed and memory record from the evaluate stage")
parser.add_argument("--probes", type=Path, required=True, help="verification probes from the evaluate stage")
parser.add_argument("--out", type=Path, required=True, help="output release manifest (JSON)")
parser.add_argument("--car", type=Path, required=True, help="output CAR file of the variant's package")
args = parser.parse_args()
sys.exit(run_guarded(lambda: release_variant(load_params(), args.model, args.variant, args.artifact, args.metrics,
                                             args.run, args.source, args.config, args.performance, args.probes,
                                             args.out, args.car)))
