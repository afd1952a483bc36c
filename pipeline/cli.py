"""The `modelprep` command."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Callable

from pipeline.errors import ERROR_PREFIX, ModelprepError


def run_guarded(action: Callable[[], object]) -> int:
    """Run `action`, turning a ModelprepError into one line on stderr and exit status 1.

    An int that `action` returns is the exit status; any other result means success.
    """
    try:
        status = action()
    except ModelprepError as err:
        print(f"{ERROR_PREFIX}{err}", file=sys.stderr)
        return 1
    return status if isinstance(status, int) and not isinstance(status, bool) else 0


def _report(args: argparse.Namespace) -> int:
    from pipeline.index import released_manifests
    from pipeline.params import load_params
    from pipeline.report import format_table, release_rows
    from pipeline.report_html import write_html_report

    params = load_params(args.params)
    rows = release_rows(params, Path("."))
    print(format_table(rows))
    write_html_report(released_manifests(params, Path("manifests")), Path(args.html))
    print(f"\n{args.html}: the released variants as one page, with size-accuracy charts")
    return 0 if all(r.gate == "PASS" and r.output != "not released yet" for r in rows) else 1


def _check_params(args: argparse.Namespace) -> int:
    from pipeline.params import load_params

    params = load_params(args.params)
    print(f"{args.params}: ok ({len(params.models)} models x {len(params.variants)} variants: "
          f"{len(params.gguf.variants)} GGUF, {len(params.onnx.variants)} ONNX)")
    return 0


def _describe(args: argparse.Namespace) -> int:
    from pipeline.fileio import dumps_json
    from pipeline.gguf.inspect import describe_gguf
    from pipeline.onnx.inspect import describe_onnx

    path = Path(args.artifact)
    print(dumps_json(describe_onnx(path) if path.is_dir() else describe_gguf(path)), end="")
    return 0


def _profile(name: str):
    from pipeline.ipfs.profiles import PROFILES

    return PROFILES[name]


def _cid(args: argparse.Namespace) -> int:
    from pipeline.ipfs.directory import add_path

    path = Path(args.path)
    if not path.exists():
        raise ModelprepError(path, "no such file or directory")
    print(add_path(path, _profile(args.profile), wrap=args.wrap).cid)
    return 0


def _car(args: argparse.Namespace) -> int:
    from pipeline.ipfs.car import write_car
    from pipeline.progress import human_bytes

    path = Path(args.path)
    if not path.exists():
        raise ModelprepError(path, "no such file or directory")
    root, blocks = write_car(path, _profile(args.profile), Path(args.out), wrap=args.wrap)
    print(f"{root.cid}  {args.out}  ({blocks} blocks, {human_bytes(Path(args.out).stat().st_size)}; "
          "written locally, nothing pinned to a network)")
    return 0


def _car_verify(args: argparse.Namespace) -> int:
    from pipeline.ipfs.car import verify_car

    root, blocks = verify_car(Path(args.car))
    print(f"{args.car}: root {root}, {blocks} blocks, every block matches its CID and the DAG is complete")
    return 0


def _pin(args: argparse.Namespace) -> int:
    from pipeline.params import load_params
    from pipeline.pin.run import pin_releases

    params = load_params(args.params)
    target = args.target or params.pin.target
    manifests = [Path(m) for m in args.manifests] or None
    pins = pin_releases(params, target, manifests, Path(args.secret_file) if args.secret_file else None,
                        args.endpoint)
    pending = [p for p in pins if p.status != "pinned"]
    if target == "car":
        print("nothing has been pinned to a network: the CAR files and CIDs are in build/*/package and manifests/")
    else:
        print(f"{len(pins) - len(pending)} package(s) pinned at {target}, {len(pending)} pending "
              "(manifests/<model>/<variant>.pins.json)")
    return 0


def _arweave_wallet(args: argparse.Namespace) -> int:
    import json
    import os

    from pipeline.arweave.wallet import Wallet, new_jwk

    path = Path(args.file)
    if path.exists():
        raise ModelprepError(path, "already exists; a wallet is never overwritten")
    jwk = new_jwk()
    # Created private (0600) before anything is written into it.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as handle:
        json.dump(jwk, handle)
    print(f"{path}: new Arweave wallet, address {Wallet(jwk, path).address}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from pipeline.params import load_params
    from pipeline.verify import verify_manifest, verify_remote

    if args.remote:
        checks = verify_remote(load_params(args.params), Path(args.manifest), args.target, args.gateway,
                               Path(args.secret_file) if args.secret_file else None)
    elif args.target or args.gateway:
        raise ModelprepError(args.manifest, "--target and --gateway go with --remote")
    else:
        checks = verify_manifest(Path(args.manifest))
    failed = _print_checks(checks, "ok  ")
    if failed:
        print(f"{ERROR_PREFIX}{args.manifest}: {len(failed)} check(s) failed, first: {failed[0]}", file=sys.stderr)
    return 1 if failed else 0


def _print_checks(checks, passed_word: str, failed_word: str = "FAIL") -> list[str]:
    """A table of checks, one line each with its status word; the names of those that failed."""
    width = max(len(c.item) for c in checks)
    for check in checks:
        print(f"{passed_word if check.passed else failed_word}  {check.item.ljust(width)}  {check.detail}")
    return [c.item for c in checks if not c.passed]


def _manifest_validate(args: argparse.Namespace) -> int:
    from pipeline.fileio import read_json
    from pipeline.manifest.schema import validation_errors
    from pipeline.manifest.signing import check_signature, signature_path

    failed = 0
    for path in args.files:
        errors = validation_errors(read_json(path))
        if signature_path(Path(path)).is_file():  # unsigned is not invalid; a signature that fails is
            signed, detail = check_signature(Path(path))
            errors += [] if signed else [f"signature: {detail}"]
        failed += bool(errors)
        print(f"{path}: " + ("valid" if not errors else f"{len(errors)} problem(s)"))
        for error in errors:
            print(f"  {error}")
    if failed:
        print(f"{ERROR_PREFIX}{failed} of {len(args.files)} manifest(s) break their schema", file=sys.stderr)
    return 1 if failed else 0


def _sign(args: argparse.Namespace) -> int:
    from pipeline.index import released_manifests
    from pipeline.manifest.signing import load_key, public_key_text, sign_manifest
    from pipeline.params import load_params

    key, key_path = load_key(Path(args.key) if args.key else None, create=True)
    manifests = [Path(m) for m in args.manifests] or released_manifests(load_params(args.params), Path("manifests"))
    for manifest in manifests:
        sign_manifest(manifest, key)
    print(f"{len(manifests)} manifest(s) signed (<variant>.sig.json) with {key_path}, public key "
          f"{public_key_text(key.public_key())}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from pipeline.manifest.checklist import run_checklist

    failed = _print_checks(run_checklist(Path(args.manifest), args.runtime), "PASS")
    if failed:
        print(f"{ERROR_PREFIX}{args.manifest}: not ready to deploy: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _probe(args: argparse.Namespace) -> int:
    from pipeline.fileio import read_json
    from pipeline.probes.check import check_endpoint
    from pipeline.verify import Check

    results = check_endpoint(read_json(args.manifest), args.endpoint, model=args.model, timeout_s=args.timeout,
                             source=args.manifest)
    failed = _print_checks([Check(f"{r.kind} {r.text!r}", r.matched, r.detail) for r in results], "match   ",
                           "MISMATCH")
    if failed:
        print(f"{ERROR_PREFIX}{args.manifest}: {len(failed)} of {len(results)} probe(s) do not match what "
              f"{args.endpoint} serves, first: {failed[0]}", file=sys.stderr)
    return 1 if failed else 0


def _match(args: argparse.Namespace) -> int:
    from pipeline.hardware.gpus import find_gpu
    from pipeline.hardware.match import Node, manifests_in, match, parse_size
    from pipeline.progress import human_bytes

    node = Node.of_gpu(find_gpu(args.gpu), args.cuda) if args.gpu else Node(parse_size(args.vram), None, args.cuda)
    fits = match(manifests_in(Path(args.manifests)), node, args.ctx, args.parallel, args.runtime)
    print(f"node: {args.gpu or args.vram} ({human_bytes(node.vram_bytes)}"
          f"{', compute capability ' + node.compute_capability if node.compute_capability else ''}"
          f"{', CUDA ' + node.cuda if node.cuda else ''})")
    for fit in fits:
        print(f"  {fit.model:<20} {fit.variant:<12} {fit.runtime:<12} ctx {fit.context:>6} x{fit.parallel}  "
              f"VRAM {human_bytes(fit.vram_bytes):>10}  {fit.accuracy:<14} {fit.manifest}")
    if not fits:
        print(f"{ERROR_PREFIX}no released variant fits this node", file=sys.stderr)
    return 0 if fits else 1


def _cuda_version(text: str) -> str:
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a CUDA version such as 12 or 12.4")
    return text


def _export_akash(args: argparse.Namespace) -> int:
    import yaml

    from pipeline.fileio import read_json, write_text
    from pipeline.hardware.akash import akash_sdl

    text = yaml.safe_dump(akash_sdl(read_json(args.manifest), args.manifest, args.ctx, args.parallel), sort_keys=False)
    if args.out:
        write_text(Path(args.out), text)
    else:
        print(text, end="")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from pipeline.params import load_params
    from pipeline.publish import publish

    uploaded, unchanged = publish(load_params(args.params), Path("manifests"))
    print(f"published: {uploaded} uploaded, {unchanged} already there with the same sha256")
    return 0


def _manifest_fields(args: argparse.Namespace) -> int:
    from pipeline.manifest.schema import field_docs, known_versions

    print(field_docs(args.version or known_versions()[-1]), end="")
    return 0


def _index(args: argparse.Namespace) -> int:
    from pipeline.index import write_index
    from pipeline.params import load_params

    rows = write_index(load_params(args.params), Path("manifests"))
    print(f"manifests/index.json and manifests/index.parquet: {len(rows)} released variants")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="modelprep", description="Quantize Hugging Face models into validated "
                                     "GGUF and ONNX artifacts with release records. `make release` runs the whole "
                                     "build.")
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="print the release table: every model x variant, its size, "
                                                "accuracy and gate, and write it as an HTML page; exit 1 if any "
                                                "failed or is missing")
    report.add_argument("--html", default="manifests/report.html",
                        help="also write the released variants as a self-contained HTML page here "
                             "(default: manifests/report.html)")
    report.set_defaults(run=_report)
    commands.add_parser("check-params", help="validate params.yaml and exit").set_defaults(run=_check_params)
    describe = commands.add_parser("describe", help="print what a variant holds: a GGUF file's tensor types, "
                                                    "parameters and bits per weight, or an ONNX directory's opset, "
                                                    "operators and weight types")
    describe.add_argument("artifact", help="a .gguf file or an ONNX variant directory")
    describe.set_defaults(run=_describe)
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
    from pipeline.params import PIN_TARGETS

    secret_help = ("file holding the target's credential instead of its environment variable: Kubo "
                   "bearer:TOKEN or basic:USER:PASSWORD, the PSA token, or the Arweave JWK wallet")
    pin = commands.add_parser("pin", help="pin released packages to a network and record it in "
                                          "manifests/<model>/<variant>.pins.json; a re-run skips what is pinned")
    pin.add_argument("manifests", nargs="*", help="manifests to pin (default: every released variant)")
    pin.add_argument("--target", choices=PIN_TARGETS, help="where to pin (default: params.yaml pin.target)")
    pin.add_argument("--endpoint", help="the target's URL instead of params.yaml's (Kubo API, PSA endpoint or "
                                        "Arweave gateway)")
    pin.add_argument("--secret-file", help=secret_help)
    pin.set_defaults(run=_pin)
    wallet = commands.add_parser("arweave-wallet", help="write a new Arweave wallet (4096-bit RSA JWK, file mode "
                                                        "0600) and print its address, e.g. for arlocal")
    wallet.add_argument("file", help="the wallet file to create; never overwritten")
    wallet.set_defaults(run=_arweave_wallet)
    manifest = commands.add_parser("verify", help="re-hash a released variant's local files and CAR against its "
                                                  "manifest (sha256, CIDv1, CIDv0), or with --remote what its "
                                                  "pins serve; exit 1 naming what differs")
    manifest.add_argument("manifest", help="manifests/<model>/<variant>.json")
    manifest.add_argument("--remote", action="store_true",
                          help="read every file back from where the package is pinned (Kubo /api/v0/cat, Arweave "
                               "GET /{id}) or from --gateway, and re-hash it")
    manifest.add_argument("--target", choices=PIN_TARGETS, help="with --remote: only this target's pins")
    manifest.add_argument("--gateway", help="with --remote: an IPFS HTTP gateway URL to read /ipfs/CID/FILE from")
    manifest.add_argument("--secret-file", help=secret_help)
    manifest.set_defaults(run=_verify)
    sign = commands.add_parser("sign", help="sign release manifests (Ed25519 over their bytes) into "
                                            "<variant>.sig.json; the key: --key, $MODELPREP_SIGNING_KEY, or your "
                                            "own ~/.config/modelprep/signing-key.pem, created on first use")
    sign.add_argument("manifests", nargs="*", help="manifests to sign (default: every released variant)")
    sign.add_argument("--key", help="PEM file of an Ed25519 private key (PKCS#8, unencrypted)")
    sign.set_defaults(run=_sign)
    from pipeline.manifest.checklist import RUNTIMES

    check = commands.add_parser("check", help="the pre-deployment checklist of a manifest: schema, signature, files "
                                              "and CIDs, runtime, budget cap, latency SLA and fallback, verification "
                                              "probes; exit 1 on any FAIL")
    check.add_argument("manifest", help="manifests/<model>/<variant>.json")
    check.add_argument("--runtime", choices=list(RUNTIMES), help="the runtime the nodes will use")
    check.set_defaults(run=_check)
    probe = commands.add_parser("probe", help="run a manifest's verification probes against a served model's "
                                              "OpenAI-compatible API (llama.cpp's server, vLLM, ...) and print "
                                              "match or mismatch per probe; exit 1 unless every probe matches")
    probe.add_argument("manifest", help="manifests/<model>/<variant>.json")
    probe.add_argument("--endpoint", required=True, help="the server's base URL, e.g. http://127.0.0.1:8080; a "
                                                         "bearer token in $MODELPREP_PROBE_TOKEN is sent with it")
    probe.add_argument("--model", help="the model name to ask for, where the server serves several")
    probe.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each answer (default: 120)")
    probe.set_defaults(run=_probe)
    matching = commands.add_parser("match", help="which released variants a node can run fully offloaded, per model "
                                                 "best first; exit 1 if none")
    node = matching.add_mutually_exclusive_group(required=True)
    node.add_argument("--gpu", help="a GPU of the table (pipeline/hardware/gpus.yaml), e.g. 'RTX 4090' or T4")
    node.add_argument("--vram", help="GPU memory, e.g. 24GiB or 8192MiB (compute capability not checked)")
    matching.add_argument("--cuda", type=_cuda_version, help="the newest CUDA version the node's driver supports, "
                                                             "e.g. 12.4")
    matching.add_argument("--ctx", type=int, help="tokens of context per sequence (default: each variant's longest "
                                                  "profile)")
    matching.add_argument("--parallel", type=int, default=1, help="sequences served at once (default: 1)")
    matching.add_argument("--runtime", choices=list(RUNTIMES), help="only variants this runtime runs")
    matching.add_argument("--manifests", default="manifests", help="folder of <model>/<variant>.json (default: "
                                                                   "manifests)")
    matching.set_defaults(run=_match)
    export = commands.add_parser("export", help="a manifest in another system's shape").add_subparsers(
        dest="export_command", required=True)
    akash = export.add_parser("akash", help="an Akash SDL compute profile (GPU models that fit, RAM, memory, "
                                            "storage) as YAML")
    akash.add_argument("manifest", help="manifests/<model>/<variant>.json")
    akash.add_argument("--ctx", type=int, help="tokens of context per sequence (default: the longest profile)")
    akash.add_argument("--parallel", type=int, default=1, help="sequences served at once (default: 1)")
    akash.add_argument("--out", help="write the YAML here instead of printing it")
    akash.set_defaults(run=_export_akash)
    commands.add_parser("publish", help="upload the manifests, signatures, pins, schema and index to S3: bucket, "
                                        "prefix and endpoint from MODELPREP_S3_BUCKET, MODELPREP_S3_PREFIX, "
                                        "MODELPREP_S3_ENDPOINT; credentials from boto3's chain"
                        ).set_defaults(run=_publish)
    manifest_commands = commands.add_parser(
        "manifest", help="release manifests and their published JSON Schema (manifests/schema/)").add_subparsers(
        dest="manifest_command", required=True)
    validate = manifest_commands.add_parser("validate", help="check manifests against the schema of their "
                                                             "record_version; exit 1 naming each problem")
    validate.add_argument("files", nargs="+", help="manifests/<model>/<variant>.json")
    validate.set_defaults(run=_manifest_validate)
    fields = manifest_commands.add_parser("fields", help="print the manifest's fields as a Markdown table, "
                                                         "from the schema's descriptions")
    fields.add_argument("--version", type=int, help="record_version (default: the newest)")
    fields.set_defaults(run=_manifest_fields)
    commands.add_parser("index", help="write manifests/index.json and index.parquet: one row per released "
                                      "variant").set_defaults(run=_index)
    verify = commands.add_parser("car-verify", help="re-hash every block of a CAR file and check its DAG is complete")
    verify.add_argument("car", help="a CAR v1 file")
    verify.set_defaults(run=_car_verify)
    args = parser.parse_args(argv)
    return run_guarded(lambda: args.run(args))


if __name__ == "__main__":
    sys.exit(main())
