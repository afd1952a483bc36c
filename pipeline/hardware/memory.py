"""Memory a variant needs to serve one profile, estimated from its architecture and weight bytes
the way its runtime allocates it; the terms follow gguf-parser and Ollama's estimators.

Each format's package holds its runtime's estimator (`pipeline/formats/<format>/memory.py`); this
module holds what they share: the architecture figures, a serving workload, the estimate's terms
(weights, KV cache, compute and output buffers, fixed overhead; RAM total for CPU execution, VRAM
total with every layer offloaded plus the CUDA context each process holds on the device, 457 MiB
as Ollama reserves it), the serving profiles of params.yaml `memory`, and the comparison of the
estimate with the memory measured during validation. What the process around the runtime holds
(interpreter, server) is not estimated.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.errors import ModelprepError
from pipeline.progress import MIB
from pipeline.settings import Reader

if TYPE_CHECKING:
    from pipeline.evaluate import EvaluationSpec, PerformanceSpec

ESTIMATOR = "modelprep-memory/2"  # 2: llama.cpp's figures are its own reservation
F32 = 4
CUDA_CONTEXT_BYTES = 457 * MIB
# The estimate agrees with the peak measured during validation (peak RSS minus the RSS before the
# model loads) within this share, for every example variant (tests/test_memory.py).
TOLERANCE = 0.25


@dataclass(frozen=True)
class Architecture:
    """What memory depends on: the manifest's `architecture` block."""

    layers: int
    hidden_size: int
    ffn_size: int
    heads: int
    kv_heads: int
    head_size: int
    vocabulary: int
    trained_context: int | None = None
    sliding_window: int | None = None

    @classmethod
    def of(cls, block: dict[str, Any], where: str | Path = "manifest") -> Architecture:
        needed = [f.name for f in fields(cls) if f.default is MISSING]
        missing = [k for k in needed if not isinstance(block.get(k), int)]
        if missing:
            raise ModelprepError(where, f"the architecture lacks {', '.join(missing)}, which the memory estimate "
                                        "needs (config.json: num_hidden_layers, intermediate_size, ...)")
        return cls(**{k: block[k] for k in cls.__dataclass_fields__ if k in block})


@dataclass(frozen=True)
class Workload:
    """One serving profile: tokens of context per sequence, sequences at once, tokens per
    micro-batch, prompt tokens in the first call, and positions whose logits are returned
    (and kept by the caller: llama-cpp-python copies every returned row into its own array)."""

    context: int
    parallel: int = 1
    ubatch: int = 512
    prompt: int | None = None  # default: the whole context
    outputs: int | None = None  # default: one per sequence

    @property
    def prompt_tokens(self) -> int:
        return self.prompt if self.prompt is not None else self.context

    @property
    def output_rows(self) -> int:
        return self.outputs if self.outputs is not None else self.parallel


@dataclass(frozen=True)
class Estimate:
    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    output_bytes: int
    overhead_bytes: int
    vram_bytes: int

    @property
    def ram_bytes(self) -> int:
        """Running on the CPU: everything in host memory."""
        return self.weights_bytes + self.kv_cache_bytes + self.compute_bytes + self.output_bytes + self.overhead_bytes

    def record(self) -> dict[str, int]:
        return {**asdict(self), "ram_bytes": self.ram_bytes}


def pad_to(value: int, multiple: int) -> int:
    return math.ceil(value / multiple) * multiple


class MemoryEstimator(Protocol):
    """One runtime's estimate (one per format, in its package)."""

    runtime: str

    def method(self) -> str:
        """How the figures are obtained, for the record."""

    def estimate(self, arch: Architecture, kind: str, weights: int, loads: list[Workload],
                 artifact: Path) -> list[Estimate]:
        """One estimate per workload for the variant in `artifact` (`weights`: its weight bytes)."""

    def validation_workload(self, kind: str, evaluation: EvaluationSpec, performance: PerformanceSpec) -> Workload:
        """What the performance measurement of a variant runs, as a workload."""


TRAINED_CONTEXT = "trained"


@dataclass(frozen=True)
class MemorySpec:
    """params.yaml `memory`: the serving profiles every manifest estimates memory for."""

    contexts: tuple[int | str, ...]  # tokens per sequence, or TRAINED_CONTEXT
    parallel: tuple[int, ...]  # sequences served at once
    ubatch: int  # tokens per micro-batch


def _positive_list(r: Reader, data: dict[str, Any], key: str, where: str, allowed: tuple[str, ...] = ()) -> tuple:
    values = r.get(data, key, list, where)
    bad = [v for v in values if v not in allowed and (isinstance(v, bool) or not isinstance(v, int) or v < 1)]
    if bad or not values or len(set(values)) != len(values):
        extra = f" or {', '.join(allowed)}" if allowed else ""
        raise r.error(f"'{where}.{key}' must list positive whole numbers{extra}, each once, got {values!r}")
    return tuple(values)


def read_memory_spec(r: Reader, data: Any, where: str) -> MemorySpec:
    data = r.mapping(data, where)
    r.no_extra(data, {"contexts", "parallel", "ubatch"}, where)
    return MemorySpec(contexts=_positive_list(r, data, "contexts", where, (TRAINED_CONTEXT,)),
                      parallel=_positive_list(r, data, "parallel", where), ubatch=r.positive(data, "ubatch", where))


def serving_workloads(arch: Architecture, spec: MemorySpec) -> list[Workload]:
    """params.yaml's profiles for this model: contexts beyond its trained one are left out."""
    trained = arch.trained_context
    contexts = sorted({trained if c == TRAINED_CONTEXT else c for c in spec.contexts
                       if c == TRAINED_CONTEXT or not trained or c <= trained} - {None})
    return [Workload(context=c, parallel=p, ubatch=spec.ubatch) for c in contexts for p in spec.parallel]


def memory_record(estimator: MemoryEstimator, kind: str, architecture: dict[str, Any], weights: int, disk: int,
                  spec: MemorySpec, artifact: Path, where: str | Path) -> dict[str, Any]:
    """The manifest's `memory` block: an estimate per serving profile."""
    arch = Architecture.of(architecture, where)
    workloads = serving_workloads(arch, spec)
    if not workloads:
        raise ModelprepError("params.yaml", f"no 'memory.contexts' entry fits {where}'s trained context of "
                                            f"{arch.trained_context} tokens; add 'trained' or a shorter context")
    estimates = estimator.estimate(arch, kind, weights, workloads, artifact)
    profiles = [{"context": load.context, "parallel": load.parallel, "ubatch": load.ubatch, **estimate.record()}
                for load, estimate in zip(workloads, estimates, strict=True)]
    return {"disk_bytes": disk, "estimator": ESTIMATOR, "method": estimator.method(), "profiles": profiles,
            "runtime": estimator.runtime}


def measured_memory(estimator: MemoryEstimator, kind: str, architecture: dict[str, Any], weights: int,
                    performance: dict[str, Any], evaluation: EvaluationSpec, perf_spec: PerformanceSpec,
                    artifact: Path, where: str | Path) -> dict[str, Any]:
    """The estimate for the workload validation measured, beside the measured figure (peak RSS minus the
    RSS before the model loaded; `where` is the performance record)."""
    load = estimator.validation_workload(kind, evaluation, perf_spec)
    estimate = estimator.estimate(Architecture.of(architecture, where), kind, weights, [load], artifact)[0].ram_bytes
    measured = performance["peak_rss_bytes"] - performance["baseline_rss_bytes"]
    if measured <= 0:
        raise ModelprepError(where, f"peak RSS ({performance['peak_rss_bytes']}) is not above the baseline "
                                    f"({performance['baseline_rss_bytes']}): the measurement is broken")
    ratio = estimate / measured
    return {"estimate_bytes": estimate, "measured_bytes": measured, "ratio": round(ratio, 3),
            "tolerance": TOLERANCE, "within_tolerance": abs(ratio - 1) <= TOLERANCE,
            "workload": {k: v for k, v in asdict(load).items() if v is not None}}
