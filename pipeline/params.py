"""params.yaml as a whole: every section, read by its owner, and the checks across sections.

This is the composition root: each section's typed settings and reader live with the code that
uses them (see SECTIONS), and stage scripts read only their own sections. The commands that act on
the whole build (`check-params`, report, sign, pin, index, publish, bench) load everything here,
so a malformed file fails in one place with one message that names the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import formats
from pipeline.bench_scale import read_bench
from pipeline.corpus import CorpusSpec
from pipeline.errors import ModelprepError
from pipeline.evaluate import EvaluationSpec, PerformanceSpec, read_performance
from pipeline.examples.tiny_llama import TinyLlamaSpec, read_examples
from pipeline.formats.base import Variant
from pipeline.gates import gate_of, read_gates
from pipeline.hardware.memory import MemorySpec, read_memory_spec
from pipeline.manifest.deployment import DeploymentSpec
from pipeline.pin.targets import PinSpec, read_pin_spec
from pipeline.probes.build import ProbeSpec
from pipeline.release import ReleaseSpec, read_release_spec
from pipeline.remote import RemoteSpec, read_remote
from pipeline.settings import DEFAULT_PARAMS, SettingsFile
from pipeline.sources import ModelSpec, pick_model, read_models

# Every top-level key: the sections below, each format's section, and the merged variant list.
SECTIONS = ("corpus", "examples", "models", "evaluation", "performance", "deployment", "release", "memory",
            "probes", "pin", "remote", "gates", "bench")


@dataclass(frozen=True)
class Params:
    path: Path
    corpus: CorpusSpec
    tiny_llama: TinyLlamaSpec
    models: dict[str, ModelSpec]
    variants: dict[str, Variant]  # every variant of every format, in format order
    evaluation: EvaluationSpec
    performance: PerformanceSpec
    deployment: DeploymentSpec
    release: ReleaseSpec
    memory: MemorySpec
    probes: ProbeSpec
    pin: PinSpec
    remote: RemoteSpec
    gates: dict[str, Any]

    def model(self, name: str) -> ModelSpec:
        return pick_model(self.models, name, self.path)

    def variant(self, name: str) -> Variant:
        if name not in self.variants:
            raise ModelprepError(self.path, f"no variant named {name!r} (known: {', '.join(self.variants)})")
        return self.variants[name]

    def gate(self, variant: str) -> Any:
        return gate_of(self.gates, variant)


def load_params(path: str | Path = DEFAULT_PARAMS) -> Params:
    settings = SettingsFile.load(path)
    r = settings.reader
    r.no_extra(settings.data, {*SECTIONS, *(f.name for f in formats.formats()), formats.ALL_VARIANTS}, "params")
    variants = formats.read_variants(settings)
    evaluation = settings.read("evaluation", EvaluationSpec)
    gates = settings.read("gates", read_gates)
    missing = [v for v in variants if v not in gates]
    if missing:
        raise r.error(f"variant {missing[0]} has no entry under 'gates'")
    settings.read("bench", read_bench)  # the scale benchmarks' own section, checked with the rest
    return Params(
        path=settings.path,
        corpus=settings.read("corpus", CorpusSpec),
        tiny_llama=settings.read("examples", read_examples),
        models=settings.read("models", read_models),
        variants=variants,
        evaluation=evaluation,
        performance=read_performance(settings, evaluation),
        deployment=settings.read("deployment", DeploymentSpec),
        release=settings.read("release", read_release_spec),
        memory=settings.read("memory", read_memory_spec),
        probes=settings.read("probes", ProbeSpec),
        pin=settings.read("pin", read_pin_spec),
        # Optional, so a params.yaml written before there was a shared remote still loads.
        remote=settings.read("remote", read_remote) if "remote" in settings.data else RemoteSpec(),
        gates=gates,
    )
