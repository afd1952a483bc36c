"""params.yaml `deployment`: the pre-deployment checklist every manifest carries and `modelprep check`
enforces: what a scheduler may pay, how fast a node must answer, and how a registry verifies it."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.settings import setting

VERIFICATION_MODES = ("probes", "none")


@dataclass(frozen=True)
class DeploymentSpec:
    max_price_per_1k_tokens_usd: float = setting(low=0)  # per 1000 tokens (decoders) or inputs (encoders)
    max_price_per_task_usd: float = setting(low=0)
    latency_sla_ms: int = setting()  # first token (decoders) or embedding (encoders) within this
    fallback_nodes: int = setting(low=0)  # nodes kept ready to take over when one misses the SLA
    verification: str = setting(choices=VERIFICATION_MODES)
