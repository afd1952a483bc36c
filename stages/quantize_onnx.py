"""DVC stage: make one ONNX variant (fp32, dynamic int8, int4, GPTQ int4) from the fp32 export."""

import argparse
import sys
from pathlib import Path

from pipeline.cli import run_guarded
from pipeline.onnx.quantize import quantize_onnx
from pipeline.params import load_params

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--base", type=Path, required=True, help="fp32 ONNX directory from the export_onnx stage")
parser.add_argument("--variant", required=True, help="ONNX variant name, e.g. onnx-int8")
parser.add_argument("--corpus", type=Path, required=True, help="corpus folder (GPTQ calibrates on its training split)")
parser.add_argument("--out", type=Path, required=True, help="output variant directory")
args = parser.parse_args()


sys.exit(run_guarded(lambda: quantize_onnx(args.base, args.variant, load_params().onnx, args.corpus, args.out)))
