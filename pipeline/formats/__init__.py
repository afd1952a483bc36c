"""The artifact formats modelprep builds: one package per format, found and registered on first use.

A format package (`pipeline/formats/<name>/`) registers its `Format` when imported (`register`);
this module imports every package in this folder the first time the formats are asked for, so a
new format is one new package and nothing else in modelprep changes. Variants are read here from
every format's params.yaml section: their names are unique across formats, and params.yaml's
top-level `variants` (which evaluate and release run over) must merge all of them.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from pipeline.errors import ModelprepError
from pipeline.formats.base import Format, Variant
from pipeline.settings import SettingsFile

_REGISTRY: dict[str, Format] = {}
ALL_VARIANTS = "variants"  # params.yaml: every format's variants, merged


def register(fmt: Format) -> Format:
    if fmt.name in _REGISTRY and type(_REGISTRY[fmt.name]) is not type(fmt):
        raise ValueError(f"two formats are named {fmt.name!r}")
    _REGISTRY[fmt.name] = fmt
    return fmt


def unregister(name: str) -> None:
    """Forget a format (for tests that register one of their own)."""
    _REGISTRY.pop(name, None)


def formats() -> list[Format]:
    """Every format, in the order of their package names."""
    for info in pkgutil.iter_modules(__path__):
        if info.ispkg:
            importlib.import_module(f"{__name__}.{info.name}")
    return sorted(_REGISTRY.values(), key=lambda f: f.name)


def get(name: str) -> Format:
    known = {f.name: f for f in formats()}
    if name not in known:
        raise ModelprepError("format", f"unknown format {name!r} (known: {', '.join(known)})")
    return known[name]


def of_artifact(path: Path) -> Format:
    """The format of a file or folder, by what it holds."""
    found = [f for f in formats() if f.recognises(path)]
    if not found:
        raise ModelprepError(path, f"not an artifact of any format modelprep knows "
                                   f"({', '.join(f.name for f in formats())})")
    return found[0]


def serving_runtimes() -> dict[str, Format]:
    """Runtime name -> the format it serves."""
    return {runtime: f for f in formats() for runtime in f.runtimes}


def read_variants(settings: SettingsFile) -> dict[str, Variant]:
    """Every variant of every format, in format order, then params.yaml order within each format."""
    variants: dict[str, Variant] = {}
    merged = settings.reader.mapping(settings.raw(ALL_VARIANTS), ALL_VARIANTS)
    for fmt in formats():
        section = settings.read(fmt.name, fmt.read_settings)
        for name, spec in section.variants.items():
            if name in merged and merged[name] != settings.raw(fmt.name)["variants"][name]:
                raise settings.reader.error(f"'{ALL_VARIANTS}.{name}' differs from '{fmt.name}.variants.{name}'; "
                                            f"'{ALL_VARIANTS}' must merge the formats' variants, not restate them")
            if name in variants:
                raise settings.reader.error(f"variant {name!r} is in both '{variants[name].format.name}.variants' "
                                            f"and '{fmt.name}.variants'; names must be unique")
            variants[name] = Variant(name, fmt, spec, section)
    if not variants:
        raise settings.reader.error("no format lists a variant to build")
    unmerged = [name for name in variants if name not in merged]
    strays = [name for name in merged if name not in variants]
    if unmerged or strays:
        anchors = ", ".join(f"*{f.name}_variants" for f in formats())
        problem = f"lacks {unmerged[0]!r}" if unmerged else f"has {strays[0]!r}, which no format lists"
        raise settings.reader.error(f"'{ALL_VARIANTS}' {problem}; it must merge every format's variants "
                                    f"(<<: [{anchors}])")
    return variants


def read_variant(settings: SettingsFile, name: str) -> Variant:
    variants = read_variants(settings)
    if name not in variants:
        raise settings.reader.error(f"no variant named {name!r} (known: {', '.join(variants)})")
    return variants[name]
