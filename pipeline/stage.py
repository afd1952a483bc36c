"""What every DVC stage script shares: its command line (`--model`, `--variant`, `--format`), params.yaml
and the build layout, and one clear error line instead of a traceback.

Stages name only what they work on; every path comes from the layout (`pipeline/layout.py`), which
dvc.yaml spells the same way (tests/test_layout.py checks it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from pipeline.errors import run_guarded
from pipeline.fileio import atomic_path, write_json
from pipeline.layout import Layout
from pipeline.monitor import record_stage
from pipeline.progress import log
from pipeline.settings import SettingsFile

NOT_BUILT = "not-built.json"  # what a stage's output folder holds when nothing asked for it

ARGUMENTS = {
    "model": "model name under `models` in params.yaml",
    "variant": "variant name, e.g. Q4_0 or onnx-int8",
    "format": "artifact format, e.g. gguf or onnx",
}


def run_stage(description: str, names: tuple[str, ...], action: Callable[..., object]) -> None:
    """Parse `--<name>` for each of `names`, then call action(settings, layout, **those values) and exit
    with its status. Where $MODELPREP_STAGE_STATS names a file (the benchmarks set it), the stage's wall
    time and peak memory, its children's included, are appended to it."""
    parser = argparse.ArgumentParser(description=description)
    for name in names:
        parser.add_argument(f"--{name}", required=True, help=ARGUMENTS[name])
    args = vars(parser.parse_args())
    sys.exit(run_guarded(lambda: record_stage(Path(sys.argv[0]).stem, args,
                                              lambda: action(SettingsFile.load(), Layout(), **args))))


def write_not_built(out_dir: Path, stage: str, reason: str) -> None:
    """The stage's output folder holding only why nothing was built: on a 70B model, a base or importance
    matrix no variant reads costs hours and hundreds of GB."""
    with atomic_path(out_dir, directory=True) as tmp:
        write_json(tmp / NOT_BUILT, {"built": False, "reason": reason})
    log(stage, f"{out_dir}: not built: {reason}")
