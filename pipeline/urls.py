"""URLs a user gives modelprep (flags, environment, params.yaml): http(s), and never a secret.

Endpoints are printed in progress, retry and error lines and recorded in pins files and the index
(which `publish` uploads), so credentials in one (`user:password@host`, a `?token=` query) would be
published. Secrets come from the environment or a file the user names; a URL holding one is
refused, and the refusal does not repeat it.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def url_problem(value: str) -> str | None:
    """What is wrong with `value` as an endpoint URL, in words that never quote a secret; None if nothing."""
    try:
        url = urlsplit(value)
        url.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return "is not a URL"
    if url.username is not None or url.password is not None:
        return ("holds credentials (user:password@host); they come from the environment or a file you name, "
                "never from a URL")
    if url.query or url.fragment:
        return "holds a query or fragment (?... or #...); give the base URL, and tokens in the environment or a file"
    if url.scheme not in ("http", "https") or not url.hostname:
        return f"must be an http:// or https:// URL with a host, got {value!r}"
    return None
