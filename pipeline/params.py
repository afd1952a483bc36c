"""params.yaml, read once and checked, into typed settings.

Every tunable of the pipeline lives in params.yaml; this module is the only reader, so a
malformed file fails in one place with one message that names the key.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ModelprepError
from pipeline.gguf.filetypes import CONVERT_OUTTYPES, file_type
from pipeline.onnx.variants import ONNX_VARIANTS

DEFAULT_PARAMS = Path("params.yaml")
MODEL_KINDS = ("decoder", "encoder")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TinyLlamaSpec:
    """The generated example decoder: architecture, training budget and seed."""

    seed: int
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    context_length: int
    train_steps: int
    batch_size: int
    learning_rate: float
    threads: int


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str
    revision: str | None = None
    kind: str | None = None  # inferred from the config when absent
    allow_pickle: bool = False
    license: str = "NOASSERTION"  # SPDX expression; NOASSERTION (SPDX's word) when params.yaml states none


@dataclass(frozen=True)
class CorpusSpec:
    eval_every: int


@dataclass(frozen=True)
class GGUFSpec:
    outtype: str
    variants: tuple[str, ...]


@dataclass(frozen=True)
class Int8Spec:
    """ONNX Runtime dynamic INT8: weights int8, activations quantized per call."""

    per_channel: bool
    reduce_range: bool


@dataclass(frozen=True)
class Int4Spec:
    """Weight-only 4-bit blocks rounded to nearest: MatMulNBits, embeddings as GatherBlockQuantized."""

    block_size: int
    symmetric: bool
    accuracy_level: int = field(metadata={"range": (0, 4)})  # MatMulNBits compute: 0 unset, 1 fp32 ... 4 int8
    quantize_embeddings: bool


@dataclass(frozen=True)
class GPTQSpec:
    """Weight-only 4-bit blocks chosen by GPTQ from activations of training-split windows."""

    block_size: int
    symmetric: bool
    accuracy_level: int = field(metadata={"range": (0, 4)})
    calibration_windows: int
    calibration_window: int
    percdamp: float
    actorder: bool


@dataclass(frozen=True)
class ONNXSpec:
    """Settings of each ONNX variant sit under the variant's own name, so DVC reruns only that variant."""

    opset: int
    external_data_min_mib: int
    variants: tuple[str, ...]
    int8: Int8Spec  # onnx.onnx-int8
    int4: Int4Spec  # onnx.onnx-int4
    int4_gptq: GPTQSpec  # onnx.onnx-int4-gptq


@dataclass(frozen=True)
class EvaluationSpec:
    device: str
    allow_cpu_fallback: bool
    threads: int
    window: int
    min_tokens: int
    sentences: int
    max_sentence_tokens: int


@dataclass(frozen=True)
class PerformanceSpec:
    """The fixed workload every variant is timed on, on the build device."""

    prompt_tokens: int
    new_tokens: int
    sentences: int
    repeats: int


VERIFICATION_MODES = ("probes", "none")
TRAINED_CONTEXT = "trained"


@dataclass(frozen=True)
class ReleaseSpec:
    """Who the manifests name as builder, and the version they give the released variants."""

    builder: str
    version: str


@dataclass(frozen=True)
class MemorySpec:
    """The serving profiles every manifest estimates memory for."""

    contexts: tuple[int | str, ...]  # tokens per sequence, or TRAINED_CONTEXT
    parallel: tuple[int, ...]  # sequences served at once
    ubatch: int  # tokens per micro-batch


@dataclass(frozen=True)
class ProbeSpec:
    """Fixed inputs whose expected outputs every manifest carries, so a registry can spot-check a node."""

    prompts: tuple[str, ...]  # decoders: greedy continuations of these
    new_tokens: int
    top_k: int  # log-probabilities kept per step
    logprob_tolerance: float  # nats a served log-probability may differ by
    sentences: tuple[str, ...]  # encoders: embeddings of these
    min_cosine: float  # a served embedding must be at least this close


@dataclass(frozen=True)
class DeploymentSpec:
    """The pre-deployment checklist recorded in every manifest."""

    max_price_per_1k_tokens_usd: float
    max_price_per_task_usd: float
    latency_sla_ms: int
    fallback_nodes: int
    verification: str


PIN_TARGETS = ("car", "kubo", "psa", "arweave")


@dataclass(frozen=True)
class RetrySpec:
    """How every pin target retries 429, 5xx, timeouts and dropped connections."""

    attempts: int
    backoff_s: float
    max_backoff_s: float
    timeout_s: float


@dataclass(frozen=True)
class KuboSpec:
    api: str


@dataclass(frozen=True)
class PSASpec:
    endpoint: str
    origins: tuple[str, ...]
    poll_s: float
    wait_s: float


@dataclass(frozen=True)
class ArweaveSpec:
    gateway: str
    poll_s: float
    confirm_wait_s: float


@dataclass(frozen=True)
class PinSpec:
    """Where `make release` pins the release packages; not a DVC stage: pins are side effects on networks."""

    target: str
    retry: RetrySpec
    kubo: KuboSpec
    psa: PSASpec
    arweave: ArweaveSpec


@dataclass(frozen=True)
class Gate:
    """Accuracy a variant must reach to be released; a bound left out is not checked."""

    max_mean_kld: float | None = None
    min_same_top1: float | None = None
    max_delta_ppl_pct: float | None = None
    min_mean_cosine: float | None = None
    min_min_cosine: float | None = None


@dataclass(frozen=True)
class Params:
    path: Path
    corpus: CorpusSpec
    tiny_llama: TinyLlamaSpec
    models: dict[str, ModelSpec]
    gguf: GGUFSpec
    onnx: ONNXSpec
    evaluation: EvaluationSpec
    performance: PerformanceSpec
    deployment: DeploymentSpec
    release: ReleaseSpec
    memory: MemorySpec
    probes: ProbeSpec
    pin: PinSpec
    gates: dict[str, Gate] = field(default_factory=dict)

    @property
    def variants(self) -> tuple[str, ...]:
        """Every variant of every format, in params.yaml order."""
        return self.gguf.variants + self.onnx.variants

    def format_of(self, variant: str) -> str:
        if variant in self.gguf.variants:
            return "gguf"
        if variant in self.onnx.variants:
            return "onnx"
        raise ModelprepError(self.path, f"variant {variant!r} is in neither 'gguf.variants' nor 'onnx.variants'")

    def model(self, name: str) -> ModelSpec:
        try:
            return self.models[name]
        except KeyError:
            raise ModelprepError(self.path, f"no model named {name!r} under 'models' "
                                            f"(known: {', '.join(self.models)})") from None

    def gate(self, variant: str) -> Gate:
        try:
            return self.gates[variant]
        except KeyError:
            raise ModelprepError(self.path, f"no gate for variant {variant!r} under 'gates'") from None


class _Reader:
    """Pulls typed values out of nested dicts, naming the dotted key in every error."""

    def __init__(self, path: Path):
        self.path = path

    def section(self, data: Any, key: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ModelprepError(self.path, f"'{key}' must be a mapping, got {type(data).__name__}")
        return data

    def get(self, data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str,
            default: Any = dataclasses.MISSING) -> Any:
        if key not in data:
            if default is dataclasses.MISSING:
                raise ModelprepError(self.path, f"missing key '{where}.{key}'")
            return default
        value = data[key]
        # YAML ints are valid floats; bools are ints in Python but never valid numbers here.
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and kind in (int, float):
            raise ModelprepError(self.path, f"'{where}.{key}' must be a number, got {value!r}")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise ModelprepError(self.path, f"'{where}.{key}' must be {names}, got {value!r}")
        return value

    def positive(self, data: dict[str, Any], key: str, where: str) -> int:
        value = self.get(data, key, int, where)
        if value <= 0:
            raise ModelprepError(self.path, f"'{where}.{key}' must be positive, got {value}")
        return value

    def choice(self, data: dict[str, Any], key: str, where: str, choices: tuple[str, ...]) -> str:
        value = self.get(data, key, str, where)
        if value not in choices:
            raise ModelprepError(self.path, f"'{where}.{key}' is {value!r}; expected one of {', '.join(choices)}")
        return value

    def no_extra(self, data: dict[str, Any], allowed: set[str], where: str) -> None:
        extra = sorted(set(data) - allowed)
        if extra:
            raise ModelprepError(self.path, f"unknown key '{where}.{extra[0]}' (allowed: {', '.join(sorted(allowed))})")


def _tiny_llama(r: _Reader, data: dict[str, Any]) -> TinyLlamaSpec:
    where = "examples.tiny-llama"
    r.section(data, where)
    names = [f.name for f in dataclasses.fields(TinyLlamaSpec)]
    r.no_extra(data, set(names), where)
    values = {n: (r.get(data, n, float, where) if n == "learning_rate" else r.positive(data, n, where))
              for n in names if n != "seed"}
    spec = TinyLlamaSpec(seed=r.get(data, "seed", int, where), **values)
    if spec.hidden_size % spec.num_heads or spec.num_heads % spec.num_kv_heads:
        raise ModelprepError(r.path, f"'{where}': hidden_size must divide by num_heads and num_heads by num_kv_heads")
    return spec


def _models(r: _Reader, data: dict[str, Any]) -> dict[str, ModelSpec]:
    r.section(data, "models")
    if not data:
        raise ModelprepError(r.path, "'models' lists no model")
    models = {}
    for name, entry in data.items():
        where = f"models.{name}"
        r.section(entry, where)
        r.no_extra(entry, {"source", "revision", "kind", "allow_pickle", "license"}, where)
        kind = r.get(entry, "kind", str, where, None)
        if kind is not None and kind not in MODEL_KINDS:
            raise ModelprepError(r.path, f"'{where}.kind' is {kind!r}; expected one of {', '.join(MODEL_KINDS)}")
        models[name] = ModelSpec(
            name=name,
            source=r.get(entry, "source", str, where),
            revision=r.get(entry, "revision", str, where, None),
            kind=kind,
            allow_pickle=r.get(entry, "allow_pickle", bool, where, False),
            license=_spdx(r, entry, where),
        )
    return models


# An SPDX license expression: ids (letters, digits, '.', '-', '+', LicenseRef-...) joined by AND/OR/WITH.
SPDX_EXPRESSION = re.compile(r"^\(?[A-Za-z0-9.+-]+\)?( (AND|OR|WITH) \(?[A-Za-z0-9.+-]+\)?)*$")


def _spdx(r: _Reader, entry: dict[str, Any], where: str) -> str:
    value = r.get(entry, "license", str, where, "NOASSERTION")
    if not SPDX_EXPRESSION.match(value):
        raise ModelprepError(r.path, f"'{where}.license' must be an SPDX license expression such as Apache-2.0, "
                                     f"got {value!r}")
    return value


def _gguf(r: _Reader, data: dict[str, Any]) -> GGUFSpec:
    r.section(data, "gguf")
    r.no_extra(data, {"outtype", "variants"}, "gguf")
    outtype = r.choice(data, "outtype", "gguf", CONVERT_OUTTYPES)
    variants = r.get(data, "variants", list, "gguf")
    for name in variants:
        if not isinstance(name, str):
            raise ModelprepError(r.path, f"'gguf.variants' entries must be llama.cpp type names, got {name!r}")
        try:
            file_type(name)
        except KeyError as err:
            raise ModelprepError(r.path, f"'gguf.variants': {err.args[0]}") from None
    if len(set(variants)) != len(variants) or not variants:
        raise ModelprepError(r.path, "'gguf.variants' must list each type once, and at least one")
    return GGUFSpec(outtype=outtype, variants=tuple(variants))


def _typed(r: _Reader, data: Any, where: str, spec_type: type) -> Any:
    """A flat section of bools, floats and ints, read into `spec_type`.

    Ints must be positive unless the field's metadata gives another `range`.
    """
    r.section(data, where)
    fields = dataclasses.fields(spec_type)
    r.no_extra(data, {f.name for f in fields}, where)
    values = {}
    for f in fields:
        if f.type == "bool":
            values[f.name] = r.get(data, f.name, bool, where)
        elif f.type == "float":
            values[f.name] = r.get(data, f.name, float, where)
        elif "range" in f.metadata:
            low, high = f.metadata["range"]
            value = r.get(data, f.name, int, where)
            if not low <= value <= high:
                raise ModelprepError(r.path, f"'{where}.{f.name}' must be {low} to {high}, got {value}")
            values[f.name] = value
        else:
            values[f.name] = r.positive(data, f.name, where)
    return spec_type(**values)


def _onnx(r: _Reader, data: dict[str, Any]) -> ONNXSpec:
    r.section(data, "onnx")
    r.no_extra(data, {"opset", "external_data_min_mib", "variants", *ONNX_VARIANTS}, "onnx")
    variants = r.get(data, "variants", list, "onnx")
    unknown = [v for v in variants if v not in ONNX_VARIANTS]
    if unknown:
        raise ModelprepError(r.path, f"'onnx.variants': unknown variant {unknown[0]!r} "
                                     f"(supported: {', '.join(ONNX_VARIANTS)})")
    if len(set(variants)) != len(variants):
        raise ModelprepError(r.path, "'onnx.variants' must list each variant once")
    spec = ONNXSpec(
        opset=r.positive(data, "opset", "onnx"),
        external_data_min_mib=r.positive(data, "external_data_min_mib", "onnx"),
        variants=tuple(variants),
        int8=_typed(r, r.get(data, "onnx-int8", dict, "onnx"), "onnx.onnx-int8", Int8Spec),
        int4=_typed(r, r.get(data, "onnx-int4", dict, "onnx"), "onnx.onnx-int4", Int4Spec),
        int4_gptq=_typed(r, r.get(data, "onnx-int4-gptq", dict, "onnx"), "onnx.onnx-int4-gptq", GPTQSpec),
    )
    r.no_extra(r.get(data, "onnx-fp32", dict, "onnx"), set(), "onnx.onnx-fp32")
    for where, block in (("onnx-int4", spec.int4.block_size), ("onnx-int4-gptq", spec.int4_gptq.block_size)):
        if block < 16 or block & (block - 1):
            raise ModelprepError(r.path, f"'onnx.{where}.block_size' must be a power of two, at least 16, got {block}")
    return spec


def _evaluation(r: _Reader, data: dict[str, Any]) -> EvaluationSpec:
    r.section(data, "evaluation")
    names = {f.name for f in dataclasses.fields(EvaluationSpec)}
    r.no_extra(data, names, "evaluation")
    spec = EvaluationSpec(
        device=r.choice(data, "device", "evaluation", DEVICES),
        allow_cpu_fallback=r.get(data, "allow_cpu_fallback", bool, "evaluation"),
        **{n: r.positive(data, n, "evaluation") for n in sorted(names - {"device", "allow_cpu_fallback"})},
    )
    if spec.window < 2:
        raise ModelprepError(r.path, "'evaluation.window' must be at least 2 tokens")
    return spec


def _performance(r: _Reader, data: dict[str, Any], evaluation: EvaluationSpec) -> PerformanceSpec:
    spec = _typed(r, data, "performance", PerformanceSpec)
    if spec.prompt_tokens + spec.new_tokens > evaluation.window:
        raise ModelprepError(r.path, "'performance.prompt_tokens' + 'new_tokens' must fit in 'evaluation.window' "
                                     f"({spec.prompt_tokens} + {spec.new_tokens} > {evaluation.window})")
    return spec


def _deployment(r: _Reader, data: dict[str, Any]) -> DeploymentSpec:
    r.section(data, "deployment")
    r.no_extra(data, {f.name for f in dataclasses.fields(DeploymentSpec)}, "deployment")
    fallback = r.get(data, "fallback_nodes", int, "deployment")
    if fallback < 0:
        raise ModelprepError(r.path, f"'deployment.fallback_nodes' must be 0 or more, got {fallback}")
    return DeploymentSpec(
        max_price_per_1k_tokens_usd=_non_negative(r, data, "max_price_per_1k_tokens_usd", "deployment"),
        max_price_per_task_usd=_non_negative(r, data, "max_price_per_task_usd", "deployment"),
        latency_sla_ms=r.positive(data, "latency_sla_ms", "deployment"), fallback_nodes=fallback,
        verification=r.choice(data, "verification", "deployment", VERIFICATION_MODES))


def _release(r: _Reader, data: dict[str, Any]) -> ReleaseSpec:
    r.section(data, "release")
    r.no_extra(data, {"builder", "version"}, "release")
    spec = ReleaseSpec(builder=r.get(data, "builder", str, "release").strip(),
                       version=r.get(data, "version", str, "release").strip())
    if not spec.builder or not spec.version:
        raise ModelprepError(r.path, "'release.builder' and 'release.version' must name who builds the release "
                                     "and its version")
    return spec


def _positive_list(r: _Reader, data: dict[str, Any], key: str, where: str, allowed: tuple[str, ...] = ()) -> tuple:
    values = r.get(data, key, list, where)
    bad = [v for v in values if v not in allowed and (isinstance(v, bool) or not isinstance(v, int) or v < 1)]
    if bad or not values or len(set(values)) != len(values):
        extra = f" or {', '.join(allowed)}" if allowed else ""
        raise ModelprepError(r.path, f"'{where}.{key}' must list positive whole numbers{extra}, each once, "
                                     f"got {values!r}")
    return tuple(values)


def _memory(r: _Reader, data: dict[str, Any]) -> MemorySpec:
    r.section(data, "memory")
    r.no_extra(data, {"contexts", "parallel", "ubatch"}, "memory")
    return MemorySpec(contexts=_positive_list(r, data, "contexts", "memory", (TRAINED_CONTEXT,)),
                      parallel=_positive_list(r, data, "parallel", "memory"),
                      ubatch=r.positive(data, "ubatch", "memory"))


def _texts(r: _Reader, data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = r.get(data, key, list, where)
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise ModelprepError(r.path, f"'{where}.{key}' must list at least one non-empty text")
    return tuple(values)


def _probes(r: _Reader, data: dict[str, Any]) -> ProbeSpec:
    r.section(data, "probes")
    r.no_extra(data, {f.name for f in dataclasses.fields(ProbeSpec)}, "probes")
    min_cosine = r.get(data, "min_cosine", float, "probes")
    if not 0 < min_cosine <= 1:
        raise ModelprepError(r.path, f"'probes.min_cosine' must be above 0 and at most 1, got {min_cosine}")
    tolerance = r.get(data, "logprob_tolerance", float, "probes")
    if tolerance <= 0:
        raise ModelprepError(r.path, f"'probes.logprob_tolerance' must be above 0, got {tolerance}")
    if r.positive(data, "top_k", "probes") < 2:
        raise ModelprepError(r.path, "'probes.top_k' must be at least 2: a near tie needs the runner-up")
    return ProbeSpec(prompts=_texts(r, data, "prompts", "probes"), new_tokens=r.positive(data, "new_tokens", "probes"),
                     top_k=r.positive(data, "top_k", "probes"), logprob_tolerance=tolerance,
                     sentences=_texts(r, data, "sentences", "probes"), min_cosine=min_cosine)


def _url(r: _Reader, data: dict[str, Any], key: str, where: str) -> str:
    value = r.get(data, key, str, where)
    if value and not value.startswith(("http://", "https://")):
        raise ModelprepError(r.path, f"'{where}.{key}' must be an http:// or https:// URL, got {value!r}")
    if "@" in value.split("//", 1)[-1].split("/", 1)[0]:
        raise ModelprepError(r.path, f"'{where}.{key}' holds credentials; they come from the environment "
                                     "or a file you name, never from params.yaml")
    return value


def _non_negative(r: _Reader, data: dict[str, Any], key: str, where: str) -> float:
    value = r.get(data, key, float, where)
    if value < 0:
        raise ModelprepError(r.path, f"'{where}.{key}' must be 0 or more, got {value}")
    return value


def _pin(r: _Reader, data: dict[str, Any]) -> PinSpec:
    r.section(data, "pin")
    r.no_extra(data, {"target", "retry", "kubo", "psa", "arweave"}, "pin")
    retry = _typed(r, r.get(data, "retry", dict, "pin"), "pin.retry", RetrySpec)
    kubo = r.section(r.get(data, "kubo", dict, "pin"), "pin.kubo")
    r.no_extra(kubo, {"api"}, "pin.kubo")
    psa = r.section(r.get(data, "psa", dict, "pin"), "pin.psa")
    r.no_extra(psa, {"endpoint", "origins", "poll_s", "wait_s"}, "pin.psa")
    origins = r.get(psa, "origins", list, "pin.psa")
    if len(origins) > 20 or not all(isinstance(o, str) and o.startswith("/") for o in origins):
        raise ModelprepError(r.path, "'pin.psa.origins' must list at most 20 multiaddrs (each starting with '/')")
    arweave = r.section(r.get(data, "arweave", dict, "pin"), "pin.arweave")
    r.no_extra(arweave, {"gateway", "poll_s", "confirm_wait_s"}, "pin.arweave")
    return PinSpec(
        target=r.choice(data, "target", "pin", PIN_TARGETS),
        retry=retry,
        kubo=KuboSpec(api=_url(r, kubo, "api", "pin.kubo")),
        psa=PSASpec(endpoint=_url(r, psa, "endpoint", "pin.psa"), origins=tuple(origins),
                    poll_s=_non_negative(r, psa, "poll_s", "pin.psa"), wait_s=_non_negative(r, psa, "wait_s", "pin.psa")),
        arweave=ArweaveSpec(gateway=_url(r, arweave, "gateway", "pin.arweave"),
                            poll_s=_non_negative(r, arweave, "poll_s", "pin.arweave"),
                            confirm_wait_s=_non_negative(r, arweave, "confirm_wait_s", "pin.arweave")),
    )


def _gates(r: _Reader, data: dict[str, Any], variants: tuple[str, ...]) -> dict[str, Gate]:
    r.section(data, "gates")
    names = {f.name for f in dataclasses.fields(Gate)}
    gates = {}
    for variant, entry in data.items():
        where = f"gates.{variant}"
        r.section(entry, where)
        r.no_extra(entry, names, where)
        gates[variant] = Gate(**{n: r.get(entry, n, float, where, None) for n in names})
    missing = [v for v in variants if v not in gates]
    if missing:
        raise ModelprepError(r.path, f"variant {missing[0]} has no entry under 'gates'")
    return gates


def load_params(path: str | Path = DEFAULT_PARAMS) -> Params:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelprepError(path, "file not found") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ModelprepError(path, f"not valid YAML{where}: {getattr(err, 'problem', None) or err}") from None
    r = _Reader(path)
    r.section(data, "params.yaml")
    r.no_extra(data, {"corpus", "examples", "models", "gguf", "onnx", "evaluation", "performance", "deployment",
                      "release", "memory", "probes", "pin", "gates"}, "params")
    corpus = r.section(r.get(data, "corpus", dict, "params"), "corpus")
    r.no_extra(corpus, {"eval_every"}, "corpus")
    examples = r.get(data, "examples", dict, "params")
    gguf = _gguf(r, r.get(data, "gguf", dict, "params"))
    onnx = _onnx(r, r.get(data, "onnx", dict, "params"))
    evaluation = _evaluation(r, r.get(data, "evaluation", dict, "params"))
    return Params(
        path=path,
        corpus=CorpusSpec(eval_every=r.positive(corpus, "eval_every", "corpus")),
        tiny_llama=_tiny_llama(r, r.get(examples, "tiny-llama", dict, "examples")),
        models=_models(r, r.get(data, "models", dict, "params")),
        gguf=gguf,
        onnx=onnx,
        evaluation=evaluation,
        performance=_performance(r, r.get(data, "performance", dict, "params"), evaluation),
        deployment=_deployment(r, r.get(data, "deployment", dict, "params")),
        release=_release(r, r.get(data, "release", dict, "params")),
        memory=_memory(r, r.get(data, "memory", dict, "params")),
        probes=_probes(r, r.get(data, "probes", dict, "params")),
        pin=_pin(r, r.get(data, "pin", dict, "params")),
        gates=_gates(r, r.get(data, "gates", dict, "params"), gguf.variants + onnx.variants),
    )
