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


def _repro(args: argparse.Namespace) -> int:
    from pipeline.params import load_params
    from pipeline.remote import repro

    params = load_params(args.params)
    url = args.remote if args.remote is not None else params.remote.url
    if args.ray:
        from pipeline.cluster import build

        build(Path("."), url, args.ray, params)  # then the local repro below restores every stage
    return 1 if repro(Path("."), url) else 0


def _collect(args: argparse.Namespace) -> int:
    from pipeline.collect import collect
    from pipeline.lockfile import tidy_lock
    from pipeline.params import load_params

    counts: dict[str, int] = {}
    for entry in collect(load_params(args.params), Layout()):
        counts[entry.change] = counts.get(entry.change, 0) + 1
        if entry.change != "unchanged":
            print(f"{entry.manifest.as_posix()}: {entry.change}")
    print("manifests: " + ", ".join(f"{count} {change}" for change, count in counts.items()))
    stale = tidy_lock(Path("."))
    print(f"dvc.lock: one entry per stage of dvc.yaml, sorted ({stale} stale entries dropped)" if stale
          else "dvc.lock: one entry per stage of dvc.yaml, sorted")
    return 0


def _measure(args: argparse.Namespace) -> int:
    from pipeline.measure import measure_released
    from pipeline.params import load_params
    from pipeline.progress import human_bytes

    params = load_params(args.params)
    fresh = kept = 0
    for entry in measure_released(params, Layout()):
        if not entry.fresh:
            kept += 1
            continue
        fresh += 1
        rate, latency = entry.kind.speed(entry.entry["performance"])
        print(f"{entry.manifest.as_posix()}: {rate}, {latency}, peak RSS "
              f"{human_bytes(entry.entry['performance']['peak_rss_bytes'])} on {entry.entry['device']}")
    print(f"measured {fresh} variants; {kept} already measured on this host for the same package and workload")
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
    import shutil

    from pipeline.fileio import sweep_temporaries
    from pipeline.layout import BUILD, MANIFESTS
    from pipeline.params import load_params
    from pipeline.progress import human_bytes
    from pipeline.withdraw import dropped_outputs

    count, freed = sweep_temporaries([Path(name) for name in (BUILD, MANIFESTS)])
    if count:
        print(f"removed {count} temporaries of interrupted stages ({human_bytes(freed)})")
    dropped = dropped_outputs(load_params(args.params), Layout())
    for path in dropped:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    if dropped:
        print(f"removed {len(dropped)} outputs of variants params.yaml no longer lists: "
              + ", ".join(p.as_posix() for p in dropped))
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
    commands.add_parser("sweep", help="delete the temporaries interrupted stages left in build/ and the records, and "
                                      "the build outputs of variants params.yaml no longer lists (make release "
                                      "runs it under its lock)").set_defaults(run=_sweep)
    repro = commands.add_parser("repro", help="dvc repro --keep-going with the shared DVC remote (params.yaml "
                                              "remote.url): stages it holds a run of are restored, not run, and "
                                              "what was built is pushed with the run-cache after; make release "
                                              "runs it; exit 1 if a stage failed")
    repro.add_argument("--remote", help="the shared remote instead of params.yaml's: s3://bucket/prefix or an "
                                        "absolute folder path; '' for none")
    repro.add_argument("--ray", metavar="ADDRESS", help="run the stages on this Ray cluster first (host:port, "
                                                        "ray://host:10001 or auto), one task per stage, through "
                                                        "the shared remote (needed); the local repro then runs none")
    repro.set_defaults(run=_repro)
    commands.add_parser("collect", help="copy each released variant's manifest from build/ (the release stage's DVC "
                                        "output) into manifests/, drop those of variants that missed their gate, "
                                        "and write dvc.lock as a clean build would (one entry per stage, sorted); "
                                        "make release runs it after dvc repro").set_defaults(run=_collect)
    commands.add_parser("measure", help="measure every released variant's speed and memory on this machine into "
                                        "manifests/<model>/<variant>.measured.json (one entry per host; a variant "
                                        "already measured here for the same package and workload is skipped); "
                                        "make release runs it unless MEASURE=0").set_defaults(run=_measure)
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
