"""Commands that get released variants out: signing, pinning to networks, publishing to a bucket."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.layout import Layout
from pipeline.urls import url_problem


def _sign(args: argparse.Namespace) -> int:
    from pipeline.index import released_manifests
    from pipeline.manifest import keys
    from pipeline.manifest.document import Manifest
    from pipeline.manifest.signing import load_key, sign_manifest
    from pipeline.manifest.trust import TRUSTED_KEYS_FILE, TrustPolicy, add_trusted_key
    from pipeline.openssf import sign_package
    from pipeline.params import load_params
    from pipeline.provenance import sign_provenance

    key, key_path = load_key(Path(args.key) if args.key else None, create=True)
    layout = Layout()
    paths = [Path(m) for m in args.manifests] or released_manifests(load_params(args.params), layout)
    packages = 0
    for path in paths:
        manifest = Manifest.load(path)
        sign_manifest(manifest, key)
        sign_provenance(manifest, layout, key)
        packages += sign_package(manifest, key_path, key.public_key(),
                                 TrustPolicy.load(layout.manifests).identities() if args.sigstore else None)
    public, algorithm = keys.public_text(key.public_key()), keys.algorithm_of(key.public_key()).name
    print(f"{len(paths)} manifest(s) signed (<variant>.sig.json), with their packages' provenance "
          f"(<variant>.provenance.json) and OpenSSF signatures (<variant>.sigstore.json; {packages} new, "
          f"{len(paths) - packages} still valid) with {key_path}: "
          f"{algorithm} public key {public} ({keys.fingerprint(public)})")
    policy_file = layout.manifests / TRUSTED_KEYS_FILE
    if args.trust and add_trusted_key(policy_file, algorithm, public, args.trust):
        print(f"{policy_file}: now trusts this key ({args.trust}); commit it with the manifests")
    elif not TrustPolicy.load(layout.manifests).trusts(public):
        print(f"note: {policy_file} does not trust this key, so verify, check, probe and publish refuse these "
              "signatures; add it with `modelprep sign --trust 'WHO'` if it is the project's builder key")
    return 0


def _pin(args: argparse.Namespace) -> int:
    from pipeline.params import load_params
    from pipeline.pin.run import pin_releases

    problem = args.endpoint and url_problem(args.endpoint)
    if problem:
        raise ModelprepError("--endpoint", problem)
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


def _push(args: argparse.Namespace) -> int:
    import dataclasses

    from pipeline.oci.registry import parse_reference
    from pipeline.params import load_params
    from pipeline.pin.oci import OciSpec
    from pipeline.pin.run import pin_releases

    url, repository, tag = parse_reference(args.reference)
    if tag:
        raise ModelprepError(args.reference, "name the repository only: each variant is tagged <model>-<variant>")
    params = load_params(args.params)
    pin = dataclasses.replace(params.pin, targets={**params.pin.targets, "oci": OciSpec(url, repository)})
    pins = pin_releases(dataclasses.replace(params, pin=pin), "oci", [Path(m) for m in args.manifests] or None,
                        Path(args.secret_file) if args.secret_file else None)
    print(f"{len(pins)} package(s) pushed to {args.reference} (manifests/<model>/<variant>.pins.json: reference "
          "and digest)")
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


def _publish(args: argparse.Namespace) -> int:
    from pipeline.manifest.trust import TrustPolicy
    from pipeline.params import load_params
    from pipeline.publish import publish

    layout = Layout()
    uploaded, unchanged, deleted = publish(load_params(args.params), layout,
                                           TrustPolicy.load(layout.manifests, args.trusted_key))
    print(f"published: {uploaded} uploaded, {unchanged} already there with the same sha256, "
          f"{deleted} of variants no longer released deleted")
    return 0


def register(commands) -> None:
    from pipeline.manifest.trust import TRUST_HELP
    from pipeline.pin.secrets import SECRET_HELP
    from pipeline.pin.targets import TARGETS

    sign = commands.add_parser("sign", help="sign release manifests (ECDSA over their bytes) into "
                                            "<variant>.sig.json and their packages with OpenSSF model signing into "
                                            "<variant>.sigstore.json; the key: --key, $MODELPREP_SIGNING_KEY, or "
                                            "your own ~/.config/modelprep/signing-key.pem, created on first use")
    sign.add_argument("manifests", nargs="*", help="manifests to sign (default: every released variant)")
    sign.add_argument("--key", help="PEM file of an ECDSA P-256, P-384 or P-521 private key (PKCS#8, "
                                                  "unencrypted)")
    sign.add_argument("--sigstore", action="store_true",
                      help="sign the packages keyless through sigstore (an OIDC identity: ambient CI credentials, "
                           "else a browser flow; logged in Rekor) instead of with the key, which still signs the "
                           "manifests and provenance; needs sigstore's public services (not tested here)")
    sign.add_argument("--trust", metavar="WHO", help="also add the key's public half to manifests/trusted-keys, "
                                                     "with WHO as its comment")
    sign.set_defaults(run=_sign)
    pin = commands.add_parser("pin", help="pin released packages to a network and record it in "
                                          "manifests/<model>/<variant>.pins.json; a re-run skips what is pinned")
    pin.add_argument("manifests", nargs="*", help="manifests to pin (default: every released variant)")
    pin.add_argument("--target", choices=list(TARGETS), help="where to pin (default: params.yaml pin.target)")
    pin.add_argument("--endpoint", help="the target's URL instead of params.yaml's (Kubo API, PSA endpoint or "
                                        "Arweave gateway)")
    pin.add_argument("--secret-file", help=SECRET_HELP)
    pin.set_defaults(run=_pin)
    push = commands.add_parser("push", help="push released variants to an OCI registry as CNCF ModelPack artifacts "
                                            "(tagged <model>-<variant>, signatures and provenance as referrers): "
                                            "what `modelprep pin --target oci` does, to the repository named here")
    push.add_argument("reference", help="oci://HOST[:PORT]/REPOSITORY (loopback hosts over plain HTTP)")
    push.add_argument("manifests", nargs="*", help="manifests to push (default: every released variant)")
    push.add_argument("--secret-file", help="file holding the registry credential (else $MODELPREP_OCI_AUTH)")
    push.set_defaults(run=_push)
    wallet = commands.add_parser("arweave-wallet", help="write a new Arweave wallet (4096-bit RSA JWK, file mode "
                                                        "0600) and print its address, e.g. for arlocal")
    wallet.add_argument("file", help="the wallet file to create; never overwritten")
    wallet.set_defaults(run=_arweave_wallet)
    publish = commands.add_parser("publish", help="upload the manifests, signatures, pins, schema and index to S3: "
                                                  "bucket, prefix and endpoint from MODELPREP_S3_BUCKET, "
                                                  "MODELPREP_S3_PREFIX, MODELPREP_S3_ENDPOINT; credentials from "
                                                  "boto3's chain; every manifest must carry a trusted signature; "
                                                  "what variants no longer released left there is deleted")
    publish.add_argument("--trusted-key", action="append", help=TRUST_HELP)
    publish.set_defaults(run=_publish)
