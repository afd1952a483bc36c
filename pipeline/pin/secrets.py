"""Credentials for pin targets: from an environment variable or a file the user names, nothing else.

Values are returned to the caller only; errors name the variable or file, never its contents.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from pipeline.errors import ModelprepError

SECRET_HELP = ("file holding the target's credential instead of its environment variable: Kubo "
               "bearer:TOKEN or basic:USER:PASSWORD, the PSA token, or the Arweave JWK wallet")


def read_secret(env: str, file: Path | None, what: str) -> str | None:
    """The secret in `file` when given, else in `$env`, else None."""
    if file is not None:
        try:
            value = file.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ModelprepError(file, f"cannot read the {what}: {err.strerror}") from None
        if not value:
            raise ModelprepError(file, f"the {what} file is empty")
        return value
    value = os.environ.get(env, "").strip()
    return value or None


def require_secret(env: str, file: Path | None, what: str, option: str) -> str:
    value = read_secret(env, file, what)
    if value is None:
        raise ModelprepError(env, f"no {what}: set {env} or pass {option} FILE")
    return value


def authorization_header(secret: str | None, env: str) -> dict[str, str]:
    """The Authorization header for a `bearer:TOKEN` or `basic:USER:PASSWORD` credential (Kubo's
    API.Authorizations notation, which the OCI target takes too); none without a credential."""
    if not secret:
        return {}
    scheme, _, value = secret.partition(":")
    if scheme == "bearer" and value:
        return {"Authorization": f"Bearer {value}"}
    if scheme == "basic" and ":" in value:
        return {"Authorization": "Basic " + base64.b64encode(value.encode()).decode()}
    raise ModelprepError(env, "must be bearer:TOKEN or basic:USER:PASSWORD")
