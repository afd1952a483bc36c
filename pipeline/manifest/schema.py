"""Release manifests against their published JSON Schema, `manifests/schema/<record_version>.json`.

The release stage validates every manifest before writing it, and `modelprep manifest validate`
lets a registry do the same. The schema's descriptions are the field documentation: the README's
table is generated from them (`modelprep manifest fields`), so the two cannot drift apart.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from pipeline.errors import ModelprepError
from pipeline.layout import REPO

SCHEMA_DIR = REPO.schema  # the schema is source, kept with the code that writes manifests
VERSION_KEY = "record_version"


def known_versions() -> list[int]:
    return sorted(int(p.stem) for p in SCHEMA_DIR.glob("*.json") if p.stem.isdigit())


@cache
def schema(version: int) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{version}.json").read_text(encoding="utf-8"))


def validation_errors(manifest: Any) -> list[str]:
    """Every way `manifest` breaks its schema, as "json.path: problem"; empty when it is valid."""
    version = manifest.get(VERSION_KEY) if isinstance(manifest, dict) else None
    if version not in known_versions():
        return [f"{VERSION_KEY}: unknown schema version {version!r} (known: {', '.join(map(str, known_versions()))})"]
    validator = Draft202012Validator(schema(version))
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in errors]


def block_errors(block: Any, key: str) -> list[str]:
    """Every way one block of a manifest (e.g. its `probes`) breaks the newest schema's definition of it."""
    validator = Draft202012Validator(schema(known_versions()[-1])["properties"][key])
    return [f"{'.'.join([key, *map(str, e.absolute_path)])}: {e.message}" for e in validator.iter_errors(block)]


def check_manifest(manifest: dict[str, Any], where: str | Path) -> None:
    errors = validation_errors(manifest)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ModelprepError(where, f"manifest breaks its schema: {errors[0]}{more}")


def field_docs(version: int) -> str:
    """A Markdown table of the top-level fields of a manifest version: name, required, description."""
    document = schema(version)
    required = set(document["required"])
    lines = ["| field | required | what it holds |", "| --- | --- | --- |"]
    for name, spec in document["properties"].items():
        lines.append(f"| `{name}` | {'yes' if name in required else 'by format'} | {spec['description']} |")
    return "\n".join(lines) + "\n"
