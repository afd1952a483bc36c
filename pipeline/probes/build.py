"""Record a variant's probes on the runtime it was validated with.

Decoders: each prompt's greedy continuation, and per step the top-k tokens with their
log-probabilities (a compact fingerprint of the logits, in the shape OpenAI-compatible completion
endpoints report `logprobs`). Encoders: each sentence's pooled embedding, stored as float16
(enough for a cosine check, a quarter of the float32 text size). Figures are rounded so the
record is stable across runs of the same build; the tolerance a checker should use goes with them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.errors import ModelprepError
from pipeline.logprobs import log_softmax
from pipeline.runtimes.base import Runtime
from pipeline.settings import setting

LOGPROB_DIGITS = 4


@dataclass(frozen=True)
class ProbeSpec:
    """params.yaml `probes`: fixed inputs whose expected outputs every manifest carries."""

    prompts: tuple[str, ...]  # decoders: greedy continuations of these
    new_tokens: int
    top_k: int = setting(low=2)  # log-probabilities kept per step; a near tie needs the runner-up
    logprob_tolerance: float = setting(above=0)  # nats a served log-probability may differ by
    sentences: tuple[str, ...] = setting()  # encoders: embeddings of these
    min_cosine: float = setting(above=0, high=1)  # a served embedding must be at least this close


def _step(runtime: Runtime, logprobs: np.ndarray, token: int, before: list[int], top_k: int) -> dict[str, Any]:
    top = np.argsort(-logprobs, kind="stable")[:top_k]
    return {"logprob": round(float(logprobs[token]), LOGPROB_DIGITS), "piece": runtime.piece(token, before),
            "token": token,
            "top": [{"logprob": round(float(logprobs[t]), LOGPROB_DIGITS), "piece": runtime.piece(int(t), before),
                     "token": int(t)} for t in top]}


def completion_probe(runtime: Runtime, prompt: str, spec: ProbeSpec, max_tokens: int) -> dict[str, Any]:
    """Greedy decoding of `prompt`, recomputing the logits of the whole sequence at each step."""
    prompt_ids = runtime.tokenize(prompt)
    if len(prompt_ids) + spec.new_tokens > max_tokens:
        raise ModelprepError("params.yaml", f"probe prompt {prompt!r} is {len(prompt_ids)} tokens; with "
                                            f"probes.new_tokens ({spec.new_tokens}) it exceeds the runtime's context "
                                            f"of {max_tokens} (evaluation.window)")
    completion: list[int] = []
    steps = []
    for _ in range(spec.new_tokens):
        logits = runtime.next_token_logits(np.array(prompt_ids + completion, dtype=np.int64))[-1]
        logprobs = log_softmax(logits.astype(np.float64)[None])[0]
        token = int(logprobs.argmax())
        # Pieces are read after the prompt too: SentencePiece drops a first token's space when decoded alone.
        steps.append(_step(runtime, logprobs, token, prompt_ids + completion, spec.top_k))
        completion.append(token)
    return {"completion_tokens": completion, "prompt": prompt, "prompt_tokens": prompt_ids,
            "steps": steps, "text": "".join(step["piece"] for step in steps)}


def embedding_probe(text: str, vector: np.ndarray) -> dict[str, Any]:
    return {"dim": int(vector.shape[0]),
            "embedding_f16": base64.b64encode(vector.astype("<f2").tobytes()).decode("ascii"), "text": text}


def decode_embedding(probe: dict[str, Any]) -> np.ndarray:
    """A recorded embedding back as float32."""
    return np.frombuffer(base64.b64decode(probe["embedding_f16"]), dtype="<f2").astype(np.float32)


def build_probes(runtime: Runtime, kind: str, spec: ProbeSpec, max_tokens: int) -> dict[str, Any]:
    """The probes of an open runtime (holding at most `max_tokens`), with the runtime and device they were
    recorded on."""
    info = runtime.info()
    record: dict[str, Any] = {"build": info["version"], "device": info["device"], "runtime": info["runtime"]}
    if kind == "decoder":
        return {**record, "kind": "completion", "logprob_tolerance": spec.logprob_tolerance,
                "prompts": [completion_probe(runtime, prompt, spec, max_tokens) for prompt in spec.prompts],
                "top_k": spec.top_k}
    vectors = runtime.embed(list(spec.sentences))
    return {**record, "kind": "embedding", "min_cosine": spec.min_cosine,
            "sentences": [embedding_probe(text, vector) for text, vector in zip(spec.sentences, vectors)]}
