"""Commands about the build itself: the release table and page, params.yaml, artifacts, the index."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.layout import Layout


def _report(args: argparse.Namespace) -> int:
    from pipeline.index import released_manifests
    from pipeline.params import load_params
    from pipeline.report import format_table, release_rows
    from pipeline.report_html import write_html_report

    params, layout = load_params(args.params), Layout()
    rows = release_rows(params, layout)
    print(format_table(rows))
    write_html_report(released_manifests(params, layout), Path(args.html))
    print(f"\n{args.html}: the released variants as one page, with size-accuracy charts")
    return 0 if all(r.gate == "PASS" and r.output != "not released yet" for r in rows) else 1


def _check_params(args: argparse.Namespace) -> int:
    from pipeline.params import load_params

    params = load_params(args.params)
    by_format: dict[str, int] = {}
    for variant in params.variants.values():
        by_format[variant.format.name] = by_format.get(variant.format.name, 0) + 1
    print(f"{args.params}: ok ({len(params.models)} models x {len(params.variants)} variants: "
          + ", ".join(f"{count} {name.upper()}" for name, count in by_format.items()) + ")")
    return 0


def _describe(args: argparse.Namespace) -> int:
    from pipeline import formats
    from pipeline.fileio import dumps_json

    path = Path(args.artifact)
    print(dumps_json(formats.of_artifact(path).describe(path)), end="")
    return 0


def _index(args: argparse.Namespace) -> int:
    from pipeline.index import write_index
    from pipeline.params import load_params

    layout = Layout()
    rows = write_index(load_params(args.params), layout)
    print(f"{layout.index_json} and {layout.index_parquet}: {len(rows)} released variants")
    return 0


def _withdraw(args: argparse.Namespace) -> int:
    from pipeline.params import load_params
    from pipeline.withdraw import withdraw

    for entry in withdraw(load_params(args.params), Layout()):
        print(f"withdrawn {entry.model} {entry.variant}: no longer released; removed "
              + ", ".join(path.as_posix() for path in entry.files))
        for pin in entry.pins:
            print(f"  its package {pin.cid} stays {pin.status} at {pin.target} {pin.endpoint}: unpin it there "
                  "if no one should fetch it")
    return 0


def _check_build(args: argparse.Namespace) -> int:
    from pipeline.build_check import blocking_stages
    from pipeline.params import load_params

    blocking = blocking_stages(load_params(args.params), Layout())
    if blocking:
        raise ModelprepError("dvc.lock", f"dvc repro left {len(blocking)} stage(s) unbuilt ({', '.join(blocking)}), "
                                         "not only missed gates: nothing is signed, pinned or indexed")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from pipeline.fileio import sweep_temporaries
    from pipeline.layout import BUILD, MANIFESTS, METRICS, PLOTS
    from pipeline.progress import human_bytes

    count, freed = sweep_temporaries([Path(name) for name in (BUILD, MANIFESTS, METRICS, PLOTS)])
    if count:
        print(f"removed {count} temporaries of interrupted stages ({human_bytes(freed)})")
    return 0


def register(commands) -> None:
    report = commands.add_parser("report", help="print the release table: every model x variant, its size, "
                                                "accuracy and gate, and write it as an HTML page; exit 1 if any "
                                                "failed or is missing")
    report.add_argument("--html", default=Layout().report_html.as_posix(),
                        help="also write the released variants as a self-contained HTML page here "
                             "(default: manifests/report.html)")
    report.set_defaults(run=_report)
    commands.add_parser("check-params", help="validate params.yaml and exit").set_defaults(run=_check_params)
    commands.add_parser("check-build", help="exit 1 naming the stages dvc repro left unbuilt, unless each is the "
                                            "release of a variant that missed its gate (make release stops there "
                                            "before signing)").set_defaults(run=_check_build)
    commands.add_parser("sweep", help="delete the temporaries interrupted stages left in build/ and the records "
                                      "(make release runs it under its lock)").set_defaults(run=_sweep)
    commands.add_parser("withdraw", help="remove the manifests, signatures, provenance and pins of variants that are "
                                         "no longer released (their gate failed, or params.yaml dropped them); "
                                         "make release runs it").set_defaults(run=_withdraw)
    describe = commands.add_parser("describe", help="print what an artifact holds: a GGUF file's tensor types, "
                                                    "parameters and bits per weight, or an ONNX directory's opset, "
                                                    "operators and weight types")
    describe.add_argument("artifact", help="a variant folder (build/<model>/variants/<variant>), a .gguf file or an "
                                           "ONNX directory")
    describe.set_defaults(run=_describe)
    commands.add_parser("index", help="write manifests/index.json and index.parquet: one row per released "
                                      "variant").set_defaults(run=_index)
