"""OpenSSF model signing of each released package: a sigstore bundle holding an in-toto statement of
every file's sha256, signed with the builder's key by the `model-signing` library, in
`manifests/<model>/<variant>.sigstore.json` beside the manifest's own signature.

What is signed is the package as a node receives it (the variant's files and its record file,
modelprep.json), so anyone holding the package folder checks it with the library's own tool:
`model_signing verify key --signature <variant>.sigstore.json --public_key builder.pem <folder>`.
ECDSA signatures in these bundles are randomised: `modelprep sign` keeps a bundle that still
verifies with its key, so a rebuild of the same package leaves it as it was.
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


def _problem(folder: Path, bundle: Path, public: keys.PublicKey) -> str | None:
    """Why the bundle does not verify `folder` under `public`, through the library; None when it does."""
    from model_signing import hashing, verifying

    with tempfile.NamedTemporaryFile(suffix=".pem") as pem:
        pem.write(keys.public_pem(public))
        pem.flush()
        try:
            verifying.Config().use_elliptic_key_verifier(public_key=pem.name).set_hashing_config(
                hashing.Config()).verify(folder, bundle)
        except Exception as err:  # the library's own failures (ValueError, its bundle parser's, ...)
            return f"{type(err).__name__}: {err}"
    return None


def sign_package(manifest: Manifest, key_path: Path, public: keys.PublicKey) -> bool:
    """Sign the package with the key at `key_path` unless its bundle already verifies under that key;
    whether it was (re)signed."""
    from model_signing import hashing, signing

    bundle = bundle_path(manifest.path)
    with package_folder(manifest) as folder:
        if bundle.is_file() and _problem(folder, bundle, public) is None:
            return False
        with atomic_path(bundle) as tmp:
            signing.Config().use_elliptic_key_signer(private_key=key_path).set_hashing_config(
                hashing.Config()).sign(folder, tmp)
    return True


def verify_folder(folder: Path, bundle: Path, policy: TrustPolicy) -> tuple[bool, str]:
    """Whether `bundle` signs exactly the files in `folder` with a key the policy trusts."""
    trusted = [(text, parsed[1]) for text in policy.keys
               if (parsed := keys.parse_any(text)) and parsed[0].curve is not None]
    if not trusted:
        return False, f"{policy.source} trusts no ECDSA key, which OpenSSF model signing takes"
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
