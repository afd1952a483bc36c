"""Commands about content ids: the CIDs Kubo would give a file or folder, and CAR files of its blocks."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.errors import ModelprepError


def _profile(name: str):
    from pipeline.ipfs.profiles import PROFILES

    return PROFILES[name]


def _existing(path: str) -> Path:
    if not Path(path).exists():
        raise ModelprepError(path, "no such file or directory")
    return Path(path)


def _cid(args: argparse.Namespace) -> int:
    from pipeline.ipfs.directory import add_path

    print(add_path(_existing(args.path), _profile(args.profile), wrap=args.wrap).cid)
    return 0


def _car(args: argparse.Namespace) -> int:
    from pipeline.ipfs.car import write_car
    from pipeline.progress import human_bytes

    root, blocks = write_car(_existing(args.path), _profile(args.profile), Path(args.out), wrap=args.wrap)
    print(f"{root.cid}  {args.out}  ({blocks} blocks, {human_bytes(Path(args.out).stat().st_size)}; "
          "written locally, nothing pinned to a network)")
    return 0


def _car_verify(args: argparse.Namespace) -> int:
    from pipeline.ipfs.car import verify_car

    root, blocks = verify_car(Path(args.car))
    print(f"{args.car}: root {root}, {blocks} blocks, every block matches its CID and the DAG is complete")
    return 0


def register(commands) -> None:
    from pipeline.ipfs.profiles import DEFAULT_PROFILE, PROFILES

    for name, action, summary in (
            ("cid", _cid, "print the CID Kubo's `ipfs add` gives a file, or `ipfs add -r` a directory"),
            ("car", _car, "write a CAR v1 file holding every block of a file or directory, rooted at its CID")):
        command = commands.add_parser(name, help=summary)
        command.add_argument("path", help="a file or a directory (hidden entries are left out, as Kubo does)")
        if name == "car":
            command.add_argument("out", help="the CAR file to write")
        command.add_argument("--profile", choices=list(PROFILES), default=DEFAULT_PROFILE,
                             help=f"Kubo import profile (default: {DEFAULT_PROFILE})")
        command.add_argument("--wrap", action="store_true",
                             help="wrap it in a directory under its own name, as `ipfs add -w` does")
        command.set_defaults(run=action)
    verify = commands.add_parser("car-verify", help="re-hash every block of a CAR file and check its DAG is complete")
    verify.add_argument("car", help="a CAR v1 file")
    verify.set_defaults(run=_car_verify)
