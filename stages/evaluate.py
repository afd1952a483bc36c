"""DVC stage: score one variant in its runtime against the stored reference; time it on this device."""

import argparse
import sys
from pathlib import Path

from pipeline.cli import run_guarded
from pipeline.params import load_params
from pipeline.validate import validate_variant

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--model", required=True, help="model name under `models` in params.yaml")
parser.add_argument("--variant", required=True, help="variant name, e.g. Q4_0")
parser.add_argument("--artifact", type=Path, required=True, help="the variant: a GGUF file or an ONNX directory")
parser.add_argument("--reference", type=Path, required=True, help="reference folder of the model")
parser.add_argument("--metrics", type=Path, required=True, help="output metrics file (JSON, numbers only)")
parser.add_argument("--run", type=Path, required=True, help="output record of how it was measured (JSON)")
parser.add_argument("--performance", type=Path, required=True, help="output speed and memory record (JSON)")
parser.add_argument("--probes", type=Path, required=True, help="output verification probes (JSON)")
args = parser.parse_args()
sys.exit(run_guarded(lambda: validate_variant(load_params(), args.model, args.variant, args.artifact, args.reference,
                                              args.metrics, args.run, args.performance, args.probes)))
