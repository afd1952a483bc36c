"""A release manifest as one object: its bytes read once, with typed views of what modelprep's own
commands and registries read from it.

The manifest is the package record (what the package holds as `modelprep.json`) plus what must not
change the package's bytes: `content` (its CIDs and CAR) and `probes` (record versions 6 and 7 also
held `measured`, now a sidecar: `measured.py`). Older record versions lack some blocks; their views
are empty (no memory profiles).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError
from pipeline.kinds import KINDS, ModelKind
from pipeline.layout import NAME

CONTENT, PROBES, MEASURED = "content", "probes", "measured"
# Manifest keys kept out of the package's record: content ids cannot be inside what they hash, and
# probes may change (another build device) without changing the package; `measured` is only in
# record versions 6 and 7.
MANIFEST_ONLY = (CONTENT, PROBES, MEASURED)


@dataclass(frozen=True)
class FileEntry:
    """One file a node downloads: its path inside the package and what it is."""

    path: str
    role: str
    media_type: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Content:
    """The package's content ids and its CAR file."""

    cid_v1: str
    cid_v0: str
    size: int
    record_file: str
    car_size: int  # bytes of its CAR (CIDv1 blocks), written when a pin needs it
    car_blocks: int
    files: dict[str, dict[str, str]]  # package path -> {"cid_v0", "cid_v1"}


@dataclass(frozen=True)
class Profile:
    """The memory estimate of one serving profile (context per sequence x sequences at once)."""

    context: int
    parallel: int
    ram_bytes: int
    vram_bytes: int


# What lies beside a manifest (<variant>.json), named after it: its signature (signing.py), its package's
# OpenSSF signature (openssf.py), its signed provenance (provenance.py) and its pins (pin/pins_file.py).
SIDECARS = {"signature": ".sig.json", "package signature": ".sigstore.json", "provenance": ".provenance.json",
            "pins": ".pins.json", "measured": ".measured.json"}


def sidecar(manifest: Path, kind: str) -> Path:
    return manifest.with_name(manifest.stem + SIDECARS[kind])


def is_manifest(path: Path) -> bool:
    """Whether a file of a manifests folder's <model>/ folders is a release manifest, not a schema or sidecar."""
    return (path.suffix == ".json" and path.parent.name != "schema"
            and not path.name.endswith(tuple(SIDECARS.values())))


# A relative POSIX path, normalised: no leading '/', no empty, '.' or '..' part, no backslash, no NUL.
# manifests/schema/ states the same pattern.
PACKAGE_PATH = re.compile(r"(?!/)(?!.*//)(?!(?:.*/)?\.\.?(?:/|$))[^\\\x00]*[^\\/\x00]")


class Manifest:
    def __init__(self, path: Path, raw: bytes, data: dict[str, Any]):
        self.path, self.raw, self.data = path, raw, data

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ModelprepError(path, "file not found") from None
        except OSError as err:
            raise ModelprepError(path, f"cannot read it: {err.strerror}") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ModelprepError(path, f"not valid JSON ({err})") from None
        except RecursionError:  # Python's parser recurses per level: a hostile file nests thousands deep
            raise ModelprepError(path, "JSON nested too deeply to be a release manifest") from None
        if not isinstance(data, dict):
            raise ModelprepError(path, f"not a modelprep release manifest (a JSON {type(data).__name__}, not an "
                                       "object)")
        return cls(path, raw, data)

    def __getitem__(self, key: str) -> Any:
        """A top-level block every release manifest has; a missing one is an error naming the file."""
        if key not in self.data:
            raise ModelprepError(self.path, f"not a modelprep release manifest (no {key!r})")
        return self.data[key]

    # Identity -------------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self._name("model")

    @property
    def variant(self) -> str:
        return self._name("variant")

    def _name(self, key: str) -> str:
        """A model or variant name, which readers make paths of (the package's CAR, pins, signatures)."""
        value = self[key]
        if not isinstance(value, str) or not NAME.fullmatch(value):
            raise ModelprepError(self.path, f"'{key}' is {value!r}: a name of letters, digits, '-' and '_'")
        return value

    @property
    def format(self) -> str:
        return self["format"]

    @property
    def kind(self) -> ModelKind:
        return KINDS[self["kind"]]

    @property
    def label(self) -> str:
        return f"{self.model}/{self.variant}"

    @property
    def record_version(self) -> int:
        return self["record_version"]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    # The package ----------------------------------------------------------------------------------
    @property
    def record(self) -> dict[str, Any]:
        """The package record: the manifest without its manifest-only blocks."""
        return {key: value for key, value in self.data.items() if key not in MANIFEST_ONLY}

    @property
    def artifact(self) -> Path:
        return Path(self._inside(self["artifact"], "artifact"))

    @cached_property
    def files(self) -> list[FileEntry]:
        return [FileEntry(self._inside(f["path"], "files[].path"), f.get("role", ""), f.get("media_type", ""),
                          f["sha256"], f["size"]) for f in self["files"]]

    def _inside(self, value: Any, key: str) -> str:
        """`value` if it is a relative, normalised path that stays inside where it is read from: a
        manifest must never make a reader hash, print or write a file elsewhere (/etc/passwd)."""
        if not isinstance(value, str) or not PACKAGE_PATH.fullmatch(value):
            raise ModelprepError(self.path, f"'{key}' is {value!r}: paths in a manifest are relative, normalised "
                                            "and stay inside the package (no leading '/', no '..')")
        return value

    @property
    def size_bytes(self) -> int:
        """What a node downloads: the package's files (the record aside)."""
        return sum(f.size for f in self.files)

    @cached_property
    def content(self) -> Content:
        content = self[CONTENT]
        car, package = content["car"], content["package"]
        return Content(package["cid_v1"], package["cid_v0"], package["size"], package["record_file"], car["size"],
                       car["blocks"], content["files"])

    # What it was measured at and asks for ---------------------------------------------------------
    @property
    def accuracy(self) -> dict[str, Any]:
        return self["accuracy"]

    @cached_property
    def profiles(self) -> list[Profile]:
        """Memory per serving profile (none before record_version 6)."""
        return [Profile(p["context"], p["parallel"], p["ram_bytes"], p["vram_bytes"])
                for p in self.data.get("memory", {}).get("profiles", [])]

    @property
    def runtimes(self) -> list[dict[str, Any]]:
        return self.data.get("runtimes", [])

    @property
    def probes(self) -> Any:
        return self.data.get(PROBES)

    def choose_profile(self, context: int | None, parallel: int) -> Profile | None:
        """The smallest profile of `parallel` sequences that holds `context` tokens each (default: the
        longest); None when there is none."""
        profiles = [p for p in self.profiles if p.parallel == parallel]
        if context is None:
            return max(profiles, key=lambda p: p.context, default=None)
        return min((p for p in profiles if p.context >= context), key=lambda p: p.context, default=None)
