"""`modelprep check MANIFEST`: the pre-deployment checklist a registry or operator runs before a
variant goes to nodes. Every item passes or fails with its reason; none is skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError
from pipeline.fileio import read_json
from pipeline.manifest.schema import validation_errors
from pipeline.manifest.signing import check_signature

# Which runtime runs which format, and what else it needs from the artifact.
RUNTIMES = {"llama.cpp": "gguf", "onnxruntime": "onnx", "onnxruntime-genai": "onnx"}


@dataclass(frozen=True)
class Item:
    name: str
    passed: bool
    reason: str


def _runtime(manifest: dict[str, Any], runtime: str | None) -> Item:
    fmt = manifest.get("format")
    if runtime is None:
        return Item("runtime", True, f"{fmt}: runs in {', '.join(r for r, f in RUNTIMES.items() if f == fmt)}")
    if RUNTIMES[runtime] != fmt:
        return Item("runtime", False, f"{runtime} runs {RUNTIMES[runtime]}, this variant is {fmt}")
    if runtime == "onnxruntime-genai" and not manifest.get("onnx", {}).get("genai_config"):
        return Item("runtime", False, "onnxruntime-genai needs genai_config.json, which this variant (an encoder?) "
                                      "does not have")
    return Item("runtime", True, f"{fmt} runs in {runtime}")


def _deployment(manifest: dict[str, Any]) -> list[Item]:
    deployment = manifest.get("deployment")
    if not isinstance(deployment, dict):
        return [Item(name, False, "the manifest has no deployment block") for name in ("budget", "latency", "verification")]
    budget = [k for k in ("max_price_per_1k_tokens_usd", "max_price_per_task_usd") if not deployment.get(k)]
    latency_ok = bool(deployment.get("latency_sla_ms")) and deployment.get("fallback_nodes", 0) >= 1
    probes = manifest.get("probes") or []
    verification = deployment.get("verification")
    return [
        Item("budget", not budget, f"{', '.join(budget)} not set" if budget else
             f"at most ${deployment['max_price_per_1k_tokens_usd']} per 1k tokens, "
             f"${deployment['max_price_per_task_usd']} per task"),
        Item("latency", latency_ok, f"SLA {deployment.get('latency_sla_ms')} ms with {deployment.get('fallback_nodes')} "
                                    "fallback node(s)" + ("" if latency_ok else ": both must be set, fallback >= 1")),
        Item("verification", verification == "probes" and bool(probes),
             f"verification is {verification!r}" if verification != "probes" else
             (f"{len(probes)} probe(s)" if probes else "verification by probes, but the manifest has no probes")),
    ]


def run_checklist(path: Path, runtime: str | None = None) -> list[Item]:
    manifest = read_json(path)
    if not isinstance(manifest, dict):
        raise ModelprepError(path, "not a JSON object")
    problems = validation_errors(manifest)
    items = [Item("schema", not problems, problems[0] if problems else "valid")]
    items.append(Item("signature", *check_signature(path)))
    items.append(_files(path))
    items.append(_runtime(manifest, runtime))
    items += _deployment(manifest)
    return items


def _files(path: Path) -> Item:
    from pipeline.verify import verify_manifest

    try:
        checks = verify_manifest(path)
    except ModelprepError as err:
        return Item("files", False, f"{err} (on a machine without the build, use `modelprep verify --remote`)")
    failed = [c for c in checks if not c.passed and c.item not in ("schema", "signature")]
    return Item("files", not failed, f"{failed[0].item}: {failed[0].detail}" if failed else
                f"{len(checks) - 2} file, CID and CAR checks pass")
