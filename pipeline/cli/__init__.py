"""The `modelprep` command: each module of this package registers one group of subcommands.

- build: the release table and page, params.yaml checks, what an artifact holds, the index;
- content: content ids and CAR files of any file or folder;
- publishing: signing, pinning and publishing released variants;
- consumers: what a registry or operator runs on a manifest (verify, check, probe, match, export).
"""

from __future__ import annotations

import argparse
import sys

from pipeline.cli import build, consumers, content, publishing
from pipeline.errors import run_guarded

GROUPS = (build, content, publishing, consumers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="modelprep", description="Quantize Hugging Face models into validated "
                                     "GGUF and ONNX artifacts with release records. `make release` runs the whole "
                                     "build.")
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(commands)
    args = parser.parse_args(argv)
    return run_guarded(lambda: args.run(args))


if __name__ == "__main__":
    sys.exit(main())
