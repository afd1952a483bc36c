"""DVC stage: export a Hugging Face folder to an fp32 ONNX directory with optimum-onnx (params: onnx.opset)."""

import argparse
import sys
from pathlib import Path

from pipeline.cli import run_guarded
from pipeline.fileio import read_json
from pipeline.onnx.export import export_onnx
from pipeline.params import load_params

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--hf", type=Path, required=True, help="Hugging Face model folder")
parser.add_argument("--source", type=Path, required=True, help="source record from the import stage (model kind)")
parser.add_argument("--out", type=Path, required=True, help="output ONNX directory")
args = parser.parse_args()


def export() -> None:
    spec = load_params().onnx
    export_onnx(args.hf, read_json(args.source)["kind"], spec.opset, spec.external_data_min_mib * 2**20, args.out)


sys.exit(run_guarded(export))
