"""Commands a registry or an operator runs on released manifests: verify, check, probe, match, export,
and the manifest schema."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from pipeline.errors import ERROR_PREFIX


def _verify(args: argparse.Namespace) -> int:
    from pipeline.checks import print_checks
    from pipeline.errors import ModelprepError
    from pipeline.manifest.document import Manifest
    from pipeline.manifest.trust import policy_for
    from pipeline.urls import url_problem
    from pipeline.verify import document_checks, verify_manifest, verify_remote

    if not args.remote and (args.target or args.gateway):
        raise ModelprepError(args.manifest, "--target and --gateway go with --remote")
    problem = args.gateway and url_problem(args.gateway)
    if problem:
        raise ModelprepError("--gateway", problem)
    manifest = Manifest.load(args.manifest)
    policy = policy_for(args.manifest, args.trusted_key)
    if args.remote:  # what comes back is checked against the signed manifest's digests
        from pipeline.params import load_params

        checks = document_checks(manifest, policy) + verify_remote(
            load_params(args.params).pin, manifest, args.target, args.gateway,
            Path(args.secret_file) if args.secret_file else None)
    else:
        checks = verify_manifest(manifest, policy)
    failed = print_checks(checks, "ok  ")
    if failed:
        print(f"{ERROR_PREFIX}{args.manifest}: {len(failed)} check(s) failed, first: {failed[0]}", file=sys.stderr)
    return 1 if failed else 0


def _check(args: argparse.Namespace) -> int:
    from pipeline.checks import print_checks
    from pipeline.manifest.checklist import run_checklist
    from pipeline.manifest.document import Manifest
    from pipeline.manifest.trust import policy_for

    failed = print_checks(run_checklist(Manifest.load(args.manifest), policy_for(args.manifest, args.trusted_key),
                                        args.runtime), "PASS")
    if failed:
        print(f"{ERROR_PREFIX}{args.manifest}: not ready to deploy: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _probe(args: argparse.Namespace) -> int:
    from pipeline.checks import Check, print_checks
    from pipeline.errors import ModelprepError
    from pipeline.manifest.document import Manifest
    from pipeline.manifest.signing import check_signature
    from pipeline.manifest.trust import policy_for
    from pipeline.probes.check import check_endpoint

    manifest = Manifest.load(args.manifest)
    signed, detail = check_signature(manifest, policy_for(args.manifest, args.trusted_key))
    if not signed:  # the probes and their tolerance decide whether a node passes: only a trusted builder's
        raise ModelprepError(args.manifest, f"signature: {detail}")
    results = check_endpoint(manifest.probes, args.endpoint, model=args.model,
                             timeout_s=args.timeout, source=args.manifest)
    failed = print_checks([Check(f"{r.kind} {r.text!r}", r.matched, r.detail) for r in results], "match   ",
                          "MISMATCH")
    if failed:
        print(f"{ERROR_PREFIX}{args.manifest}: {len(failed)} of {len(results)} probe(s) do not match what "
              f"{args.endpoint} serves, first: {failed[0]}", file=sys.stderr)
    return 1 if failed else 0


def _pull(args: argparse.Namespace) -> int:
    from pipeline.manifest.trust import TrustPolicy
    from pipeline.oci.pull import pull
    from pipeline.pin.http import RetrySpec
    from pipeline.pin.oci import registry_headers

    if Path(args.params).is_file():
        from pipeline.params import load_params

        retry = load_params(args.params).pin.retry
    else:  # a registry operator's machine: no project here
        retry = RetrySpec(attempts=6, backoff_s=1.0, max_backoff_s=30.0, timeout_s=120.0)
    out = Path(args.out)
    policy = TrustPolicy.load(Path("manifests"), args.trusted_key)
    target = pull(args.reference, out, policy, retry, registry_headers(Path(args.secret_file) if args.secret_file
                                                                      else None))
    print(f"{target}: verified (digest, every layer, manifest signature, provenance, OpenSSF signature)")
    return 0


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

    from pipeline.fileio import write_text
    from pipeline.hardware.akash import akash_sdl
    from pipeline.manifest.document import Manifest

    text = yaml.safe_dump(akash_sdl(Manifest.load(args.manifest), args.ctx, args.parallel), sort_keys=False)
    if args.out:
        write_text(Path(args.out), text)
    else:
        print(text, end="")
    return 0


def _manifest_validate(args: argparse.Namespace) -> int:
    from pipeline.errors import ModelprepError
    from pipeline.manifest.document import Manifest
    from pipeline.manifest.schema import validation_errors
    from pipeline.manifest.signing import check_signature, signature_path
    from pipeline.manifest.trust import policy_for

    failed = 0
    for path in args.files:
        try:
            manifest = Manifest.load(path)
        except ModelprepError as err:
            errors = [str(err)]
        else:
            errors = validation_errors(manifest.data)
            if signature_path(manifest.path).is_file():  # unsigned is not invalid; a signature that fails is
                signed, detail = check_signature(manifest, policy_for(path, args.trusted_key))
                errors += [] if signed else [f"signature: {detail}"]
        failed += bool(errors)
        print(f"{path}: " + ("valid" if not errors else f"{len(errors)} problem(s)"))
        for error in errors:
            print(f"  {error}")
    if failed:
        print(f"{ERROR_PREFIX}{failed} of {len(args.files)} manifest(s) break their schema", file=sys.stderr)
    return 1 if failed else 0


def _manifest_fields(args: argparse.Namespace) -> int:
    from pipeline.manifest.schema import field_docs, known_versions

    print(field_docs(args.version or known_versions()[-1]), end="")
    return 0


def register(commands) -> None:
    from pipeline import formats
    from pipeline.manifest.trust import TRUST_HELP
    from pipeline.pin.secrets import SECRET_HELP
    from pipeline.pin.targets import TARGETS

    runtimes = list(formats.serving_runtimes())
    verify = commands.add_parser("verify", help="re-hash a released variant's local files and CAR against its "
                                                "manifest (sha256, CIDv1, CIDv0), or with --remote what its "
                                                "pins serve; exit 1 naming what differs")
    verify.add_argument("manifest", help="manifests/<model>/<variant>.json")
    verify.add_argument("--remote", action="store_true",
                        help="read every file back from where the package is pinned (Kubo /api/v0/cat, Arweave "
                             "GET /{id}) or from --gateway, and re-hash it")
    verify.add_argument("--target", choices=list(TARGETS), help="with --remote: only this target's pins")
    verify.add_argument("--gateway", help="with --remote: an IPFS HTTP gateway URL to read /ipfs/CID/FILE from")
    verify.add_argument("--secret-file", help=SECRET_HELP)
    verify.add_argument("--trusted-key", action="append", help=TRUST_HELP)
    verify.set_defaults(run=_verify)
    check = commands.add_parser("check", help="the pre-deployment checklist of a manifest: schema, signature, files "
                                              "and CIDs, runtime, budget cap, latency SLA and fallback, verification "
                                              "probes; exit 1 on any FAIL")
    check.add_argument("manifest", help="manifests/<model>/<variant>.json")
    check.add_argument("--runtime", choices=runtimes, help="the runtime the nodes will use")
    check.add_argument("--trusted-key", action="append", help=TRUST_HELP)
    check.set_defaults(run=_check)
    probe = commands.add_parser("probe", help="run a manifest's verification probes against a served model's "
                                              "OpenAI-compatible API (llama.cpp's server, vLLM, ...) and print "
                                              "match or mismatch per probe; exit 1 unless every probe matches")
    probe.add_argument("manifest", help="manifests/<model>/<variant>.json")
    probe.add_argument("--endpoint", required=True, help="the server's base URL, e.g. http://127.0.0.1:8080; a "
                                                         "bearer token in $MODELPREP_PROBE_TOKEN is sent with it")
    probe.add_argument("--model", help="the model name to ask for, where the server serves several")
    probe.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each answer (default: 120)")
    probe.add_argument("--trusted-key", action="append", help=TRUST_HELP)
    probe.set_defaults(run=_probe)
    pulling = commands.add_parser("pull", help="fetch a released variant from an OCI registry by digest "
                                               "(oci://HOST/REPO@sha256:...), verify every layer, the signatures "
                                               "and the provenance against the trust policy, and write "
                                               "OUT/<model>/<variant>/ and OUT/manifests/<model>/")
    pulling.add_argument("reference", help="oci://HOST[:PORT]/REPOSITORY@sha256:DIGEST (loopback hosts over "
                                           "plain HTTP)")
    pulling.add_argument("--out", default="pulled", help="folder to write into (default: pulled)")
    pulling.add_argument("--trusted-key", action="append", help=TRUST_HELP)
    pulling.add_argument("--secret-file", help="file holding the registry credential (else $MODELPREP_OCI_AUTH: "
                                               "bearer:TOKEN or basic:USER:PASSWORD)")
    pulling.set_defaults(run=_pull)
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
    matching.add_argument("--runtime", choices=runtimes, help="only variants this runtime runs")
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
    manifest_commands = commands.add_parser(
        "manifest", help="release manifests and their published JSON Schema (manifests/schema/)").add_subparsers(
        dest="manifest_command", required=True)
    validate = manifest_commands.add_parser("validate", help="check manifests against the schema of their "
                                                             "record_version; exit 1 naming each problem")
    validate.add_argument("files", nargs="+", help="manifests/<model>/<variant>.json")
    validate.add_argument("--trusted-key", action="append", help=TRUST_HELP + "; a signed manifest's signature "
                                                                              "must be by one of them")
    validate.set_defaults(run=_manifest_validate)
    fields = manifest_commands.add_parser("fields", help="print the manifest's fields as a Markdown table, "
                                                         "from the schema's descriptions")
    fields.add_argument("--version", type=int, help="record_version (default: the newest)")
    fields.set_defaults(run=_manifest_fields)
