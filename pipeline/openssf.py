"""OpenSSF model signing of each released package: a sigstore bundle holding an in-toto statement of
every file's sha256, signed with the builder's key by the `model-signing` library, in
`manifests/<model>/<variant>.sigstore.json` beside the manifest's own signature.

What is signed is the package as a node receives it (the variant's files and its record file,
modelprep.json), so anyone holding the package folder checks it with the library's own tool:
`model_signing verify key --signature <variant>.sigstore.json --public_key builder.pem <folder>`.
ECDSA signatures in these bundles are randomised: `modelprep sign` keeps a bundle that still
verifies with its key, so a rebuild of the same package leaves it as it was.

Keyless signing (`modelprep sign --sigstore`: a Fulcio certificate for an OIDC identity, the
signature logged in Rekor) is the library's sigstore signer, verified against the policy's
`sigstore <identity> <issuer>` entries. It needs sigstore's public services, which this project's
tests cannot reach: that path is documented, not tested here.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pipeline.fileio import atomic_path, link_or_copy
from pipeline.layout import Layout
from pipeline.manifest import keys
from pipeline.manifest.document import Manifest, sidecar
from pipeline.manifest.trust import TrustPolicy
from pipeline.package import Release


def bundle_path(manifest: Path) -> Path:
    return sidecar(manifest, "package signature")


@contextlib.contextmanager
def package_folder(manifest: Manifest) -> Iterator[Path]:
    """The package's files in a temporary folder named after the variant: links of the built files
    (copies where the file system has none) and the record file."""
    release = Release.of(manifest)
    near = Layout().car(manifest.model, manifest.variant).parent  # the build's file system: links work
    near.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".openssf-", dir=near) as tmp:
        folder = Path(tmp) / manifest.variant
        for entry in release.files:
            if entry.path:
                link_or_copy(entry.path, folder / entry.name)
            else:
                (folder / entry.name).parent.mkdir(parents=True, exist_ok=True)
                (folder / entry.name).write_bytes(entry.data)
        yield folder


def _problem(folder: Path, bundle: Path, public: keys.PublicKey | tuple[str, str]) -> str | None:
    """Why the bundle does not verify `folder` under `public` (a key, or a keyless identity and its
    issuer), through the library; None when it does."""
    from model_signing import hashing, verifying

    with tempfile.NamedTemporaryFile(suffix=".pem") as pem:
        if isinstance(public, tuple):
            config = verifying.Config().use_sigstore_verifier(identity=public[0], oidc_issuer=public[1])
        else:
            pem.write(keys.public_pem(public))
            pem.flush()
            config = verifying.Config().use_elliptic_key_verifier(public_key=pem.name)
        try:
            config.set_hashing_config(hashing.Config()).verify(folder, bundle)
        except Exception as err:  # the library's own failures (ValueError, its bundle parser's, ...)
            return f"{type(err).__name__}: {err}"
    return None


def sign_package(manifest: Manifest, key_path: Path, public: keys.PublicKey,
                 keyless: list[tuple[str, str]] | None = None) -> bool:
    """Sign the package with the key at `key_path`, or keyless through sigstore when `keyless` lists the
    identities to keep a bundle for, unless its bundle already verifies; whether it was (re)signed."""
    from model_signing import hashing, signing

    bundle = bundle_path(manifest.path)
    with package_folder(manifest) as folder:
        if bundle.is_file() and any(_problem(folder, bundle, p) is None for p in (keyless or [public])):
            return False
        config = (signing.Config().use_sigstore_signer(use_ambient_credentials=True) if keyless is not None
                  else signing.Config().use_elliptic_key_signer(private_key=key_path))
        with atomic_path(bundle) as tmp:
            config.set_hashing_config(hashing.Config()).sign(folder, tmp)
    return True


def verify_folder(folder: Path, bundle: Path, policy: TrustPolicy) -> tuple[bool, str]:
    """Whether `bundle` signs exactly the files in `folder` with a key the policy trusts."""
    trusted = [(text, parsed[1]) for text in policy.public_keys()
               if (parsed := keys.parse_any(text)) and parsed[0].curve is not None]
    trusted += [(f"sigstore {identity} {issuer}", (identity, issuer)) for identity, issuer in policy.identities()]
    if not trusted:
        return False, f"{policy.source} trusts no ECDSA key or sigstore identity, which OpenSSF model signing takes"
    count = sum(1 for p in folder.rglob("*") if p.is_file())
    problems = []
    for text, public in trusted:
        problem = _problem(folder, bundle, public)
        if problem is None:
            return True, f"{bundle.name}: {count} files, signed by trusted key {policy.describe(text)}"
        problems.append(problem)
    return False, f"{bundle.name} verifies under no key {policy.source} trusts ({problems[-1][:200]})"


def check_package_signature(manifest: Manifest, policy: TrustPolicy) -> tuple[bool, str]:
    """Whether the local package carries an OpenSSF signature by a key the policy trusts."""
    bundle = bundle_path(manifest.path)
    if not bundle.is_file():
        return False, f"no {bundle.name} (run `modelprep sign`)"
    with package_folder(manifest) as folder:
        return verify_folder(folder, bundle, policy)
