"""`modelprep check MANIFEST`: the pre-deployment checklist a registry or operator runs before a
variant goes to nodes. Every item passes or fails with its reason; none is skipped silently.
"""

from __future__ import annotations

from pipeline import formats
from pipeline.checks import Check
from pipeline.errors import ModelprepError
from pipeline.manifest.document import Manifest
from pipeline.manifest.trust import TrustPolicy
from pipeline.verify import content_checks, document_checks, package_signature


def _runtime(manifest: Manifest, runtime: str | None) -> Check:
    fmt = manifest.format
    if runtime is None:
        return Check("runtime", True, f"{fmt}: runs in {', '.join(formats.get(fmt).runtimes)}")
    serves = formats.serving_runtimes()[runtime]
    if serves.name != fmt:
        return Check("runtime", False, f"{runtime} runs {serves.name}, this variant is {fmt}")
    problem = serves.runtime_problem(runtime, manifest)
    return Check("runtime", problem is None, problem or f"{fmt} runs in {runtime}")


def _deployment(manifest: Manifest) -> list[Check]:
    deployment = manifest.data.get("deployment")
    if not isinstance(deployment, dict):
        return [Check(name, False, "the manifest has no deployment block")
                for name in ("budget", "latency", "verification")]
    budget = [k for k in ("max_price_per_1k_tokens_usd", "max_price_per_task_usd") if not deployment.get(k)]
    latency_ok = bool(deployment.get("latency_sla_ms")) and deployment.get("fallback_nodes", 0) >= 1
    probes = manifest.probes if isinstance(manifest.probes, dict) else {}
    recorded = len(probes.get("prompts") or probes.get("sentences") or [])
    verification = deployment.get("verification")
    return [
        Check("budget", not budget, f"{', '.join(budget)} not set" if budget else
              f"at most ${deployment['max_price_per_1k_tokens_usd']} per 1k tokens, "
              f"${deployment['max_price_per_task_usd']} per task"),
        Check("latency", latency_ok, f"SLA {deployment.get('latency_sla_ms')} ms with "
                                     f"{deployment.get('fallback_nodes')} fallback node(s)"
                                     + ("" if latency_ok else ": both must be set, fallback >= 1")),
        Check("verification", verification == "probes" and recorded > 0,
              f"verification is {verification!r}" if verification != "probes" else
              (f"{recorded} {probes.get('kind')} probe(s) recorded on {probes.get('runtime')} {probes.get('build')}"
               if recorded else "verification by probes, but the manifest has no probes")),
    ]


def run_checklist(manifest: Manifest, policy: TrustPolicy, runtime: str | None = None) -> list[Check]:
    return [*document_checks(manifest, policy), _files(manifest), package_signature(manifest, policy),
            _runtime(manifest, runtime), *_deployment(manifest)]


def _files(manifest: Manifest) -> Check:
    try:
        checks = content_checks(manifest)
    except ModelprepError as err:
        return Check("files", False, f"{err} (on a machine without the build, use `modelprep verify --remote`)")
    failed = [c for c in checks if not c.passed]
    return Check("files", not failed, f"{failed[0].item}: {failed[0].detail}" if failed else
                 f"{len(checks)} file, CID and CAR checks pass")
