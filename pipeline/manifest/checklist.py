"""`modelprep check MANIFEST`: the pre-deployment checklist a registry or operator runs before a
variant goes to nodes. Every item passes or fails with its reason; none is skipped silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError
from pipeline.fileio import read_json
from pipeline.verify import Check, content_checks, document_checks

# Which runtime runs which format, and what else it needs from the artifact.
RUNTIMES = {"llama.cpp": "gguf", "onnxruntime": "onnx", "onnxruntime-genai": "onnx"}


def _runtime(manifest: dict[str, Any], runtime: str | None) -> Check:
    fmt = manifest.get("format")
    if runtime is None:
        return Check("runtime", True, f"{fmt}: runs in {', '.join(r for r, f in RUNTIMES.items() if f == fmt)}")
    if RUNTIMES[runtime] != fmt:
        return Check("runtime", False, f"{runtime} runs {RUNTIMES[runtime]}, this variant is {fmt}")
    if runtime == "onnxruntime-genai" and not manifest.get("onnx", {}).get("genai_config"):
        return Check("runtime", False, "onnxruntime-genai needs genai_config.json, which this variant (an encoder?) "
                                      "does not have")
    return Check("runtime", True, f"{fmt} runs in {runtime}")


def _deployment(manifest: dict[str, Any]) -> list[Check]:
    deployment = manifest.get("deployment")
    if not isinstance(deployment, dict):
        return [Check(name, False, "the manifest has no deployment block")
                for name in ("budget", "latency", "verification")]
    budget = [k for k in ("max_price_per_1k_tokens_usd", "max_price_per_task_usd") if not deployment.get(k)]
    latency_ok = bool(deployment.get("latency_sla_ms")) and deployment.get("fallback_nodes", 0) >= 1
    probes = manifest.get("probes") if isinstance(manifest.get("probes"), dict) else {}
    recorded = len(probes.get("prompts") or probes.get("sentences") or [])
    verification = deployment.get("verification")
    return [
        Check("budget", not budget, f"{', '.join(budget)} not set" if budget else
             f"at most ${deployment['max_price_per_1k_tokens_usd']} per 1k tokens, "
             f"${deployment['max_price_per_task_usd']} per task"),
        Check("latency", latency_ok, f"SLA {deployment.get('latency_sla_ms')} ms with {deployment.get('fallback_nodes')} "
                                    "fallback node(s)" + ("" if latency_ok else ": both must be set, fallback >= 1")),
        Check("verification", verification == "probes" and recorded > 0,
             f"verification is {verification!r}" if verification != "probes" else
             (f"{recorded} {probes.get('kind')} probe(s) recorded on {probes.get('runtime')} {probes.get('build')}"
              if recorded
              else "verification by probes, but the manifest has no probes")),
    ]


def run_checklist(path: Path, runtime: str | None = None) -> list[Check]:
    manifest = read_json(path)
    if not isinstance(manifest, dict):
        raise ModelprepError(path, "not a JSON object")
    return [*document_checks(path), _files(path), _runtime(manifest, runtime), *_deployment(manifest)]


def _files(path: Path) -> Check:
    try:
        checks = content_checks(path)
    except ModelprepError as err:
        return Check("files", False, f"{err} (on a machine without the build, use `modelprep verify --remote`)")
    failed = [c for c in checks if not c.passed]
    return Check("files", not failed, f"{failed[0].item}: {failed[0].detail}" if failed else
                 f"{len(checks)} file, CID and CAR checks pass")
