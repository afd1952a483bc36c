"""Check a served model against a manifest's verification probes, through its OpenAI-compatible API.

The rules (`modelprep probe MANIFEST --endpoint URL`):

Completions (decoders). Each recorded prompt is sent as text to POST {endpoint}/v1/completions with
max_tokens = its number of recorded steps, temperature 0, top_k 1 and repeat_penalty 1.0 (llama.cpp's
extensions: greedy decoding, and no penalty reshaping the logits; llama-cpp-python's server defaults
to 1.1, which changes the argmax), logprobs = the record's top_k and echo false. The answer's steps
are compared with the recorded ones in order, by token text:
- the served log-probability of the recorded token must be within logprob_tolerance of the recorded one;
- where the server chose another token, the step still matches only as a near tie: that token is in
  the recorded top-k with a recorded log-probability within logprob_tolerance of the recorded top-1,
  and its served log-probability is within tolerance of its recorded one. The continuations
  legitimately diverge after a tie, so that prompt is compared no further;
- anything else is a mismatch naming the step and the recorded and served pieces and
  log-probabilities, as is an answer with fewer steps than recorded.
Answers are read in either shape servers give completion logprobs: OpenAI's (`tokens`,
`token_logprobs`, `top_logprobs` as {piece: logprob}; llama-cpp-python, vLLM) or llama.cpp's
llama-server (`content`: [{token, logprob, top_logprobs: [{token, logprob}]}]).

Embeddings (encoders). All sentences go in one POST {endpoint}/v1/embeddings; each served vector
must have the recorded dimension and a cosine with the recorded (float16) one of at least min_cosine.

Requests go through the HttpClient every network call of modelprep uses (retries with backoff,
timeouts); a bearer token in MODELPREP_PROBE_TOKEN is sent as Authorization and never printed.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.errors import ModelprepError
from pipeline.manifest.schema import block_errors
from pipeline.pin.http import HttpClient, RetrySpec
from pipeline.probes.build import decode_embedding
from pipeline.urls import url_problem

TOKEN_ENV = "MODELPREP_PROBE_TOKEN"
STAGE = "probe"
# A spot check wants its verdict in seconds: a few quick retries of dropped connections, 429 and 5xx.
RETRY = RetrySpec(attempts=3, backoff_s=1.0, max_backoff_s=10.0, timeout_s=120.0)


@dataclass(frozen=True)
class ProbeResult:
    kind: str  # completion or embedding
    text: str  # the prompt or sentence probed
    matched: bool
    figure: float | None  # completion: largest |delta logprob| compared; embedding: cosine; None: nothing compared
    detail: str  # what was compared, or the first difference


@dataclass(frozen=True)
class ServedStep:
    piece: str
    logprob: float
    top: dict[str, float]  # the served top-k, piece: logprob


def check_endpoint(probes: Any, endpoint: str, *, model: str | None = None,
                   timeout_s: float = RETRY.timeout_s, source: str = "manifest") -> list[ProbeResult]:
    """Every probe of a manifest's `probes` record run against `endpoint`, one result each; `source` names the
    manifest in errors."""
    if not isinstance(probes, dict) or probes.get("kind") not in ("completion", "embedding"):
        raise ModelprepError(source, "has no probes to run (its 'probes' key is missing or not a probe record)")
    problems = block_errors(probes, "probes")
    if problems:
        raise ModelprepError(source, f"its probes break the schema: {problems[0]}")
    client = _client(endpoint, timeout_s)
    extra = {"model": model} if model else {}
    if probes["kind"] == "completion":
        return [_check_prompt(client, prompt, probes, extra) for prompt in probes["prompts"]]
    return _check_sentences(client, probes, extra)


def _client(endpoint: str, timeout_s: float) -> HttpClient:
    problem = url_problem(endpoint)
    if problem:
        raise ModelprepError("--endpoint", f"{problem} (a token goes in {TOKEN_ENV})")
    token = os.environ.get(TOKEN_ENV)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # Users paste either the server's root or its OpenAI base URL (…/v1).
    base = endpoint.rstrip("/").removesuffix("/v1")
    return HttpClient(base, dataclasses.replace(RETRY, timeout_s=timeout_s), STAGE, TOKEN_ENV, headers)


def _post(client: HttpClient, path: str, body: dict[str, Any]) -> Any:
    response = client.request("POST", path, json=body)
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type")
        raise ModelprepError(response.url, f"answered HTTP {response.status_code} with {kind}, not JSON "
                                           f"({response.text[:80]!r}); is it an OpenAI-compatible endpoint?") from None


def _check_prompt(client: HttpClient, prompt: dict[str, Any], probes: dict[str, Any],
                  extra: dict[str, Any]) -> ProbeResult:
    body = {"prompt": prompt["prompt"], "max_tokens": len(prompt["steps"]), "temperature": 0, "top_k": 1,
            "repeat_penalty": 1.0, "logprobs": probes["top_k"], "echo": False, **extra}
    answer = _post(client, "/v1/completions", body)
    return compare_completion(prompt, served_steps(answer, client.url("/v1/completions")),
                              probes["logprob_tolerance"])


def served_steps(answer: Any, url: str) -> list[ServedStep]:
    """The steps of a completion answer, in OpenAI's logprobs shape or llama-server's `content` one."""
    try:
        logprobs = answer["choices"][0]["logprobs"]
        if "content" in logprobs:
            return [ServedStep(step["token"], float(step["logprob"]),
                               {top["token"]: float(top["logprob"]) for top in step["top_logprobs"]})
                    for step in logprobs["content"]]
        return [ServedStep(piece, float(logprob), {p: float(lp) for p, lp in (top or {}).items()})
                for piece, logprob, top in zip(logprobs["tokens"], logprobs["token_logprobs"],
                                               logprobs["top_logprobs"], strict=True)]
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise ModelprepError(url, f"the answer has no per-token logprobs ({type(err).__name__}: {err}); the "
                                  "server must return them (llama-cpp-python: --logits_all true)") from None


def compare_completion(prompt: dict[str, Any], served: list[ServedStep], tolerance: float) -> ProbeResult:
    """One prompt's recorded steps against the served ones, by the rules above."""
    steps = prompt["steps"]
    deltas: list[float] = []

    def result(matched: bool, detail: str) -> ProbeResult:
        worst = max(deltas, default=None)
        figures = f"; max |delta logprob| {worst:.3g}" if worst is not None else ""
        return ProbeResult("completion", prompt["prompt"], matched, worst, detail + figures)

    for number, (expected, got) in enumerate(zip(steps, served), start=1):
        problem = _logprob_problem(expected["piece"], expected["logprob"], got, tolerance, deltas)
        if problem is None and got.piece != expected["piece"]:
            problem = _tie_problem(expected, got, tolerance, deltas)
            if problem is None:
                return result(True, f"{number - 1} step(s) as recorded, then a near tie at step {number} "
                                    f"({got.piece!r} served, {expected['piece']!r} recorded), compared no further")
        if problem:
            return result(False, f"step {number}: {problem}")
    if len(served) < len(steps):
        return result(False, f"served {len(served)} of {len(steps)} recorded steps")
    return result(True, f"{len(steps)} step(s) as recorded")


def _logprob_problem(piece: str, recorded: float, got: ServedStep, tolerance: float,
                     deltas: list[float]) -> str | None:
    """Why the served log-probability of `piece` at this step is not the recorded one, or None if it is."""
    served = got.logprob if got.piece == piece else got.top.get(piece)
    if served is None:
        return (f"recorded {piece!r} ({recorded:.4f}) is not in the served top-k; "
                f"served {got.piece!r} ({got.logprob:.4f})")
    deltas.append(abs(served - recorded))
    if deltas[-1] > tolerance:
        return (f"{piece!r} has logprob {served:.4f} served, {recorded:.4f} recorded "
                f"(|delta| {deltas[-1]:.4f} > {tolerance})")
    return None


def _tie_problem(expected: dict[str, Any], got: ServedStep, tolerance: float, deltas: list[float]) -> str | None:
    """Why serving `got` instead of the recorded greedy token is not a near tie, or None if it is."""
    recorded = {top["piece"]: top["logprob"] for top in expected["top"]}
    if got.piece not in recorded:
        return (f"served {got.piece!r} ({got.logprob:.4f}), not in the recorded top-{len(recorded)}; "
                f"recorded {expected['piece']!r} ({expected['logprob']:.4f})")
    gap = expected["top"][0]["logprob"] - recorded[got.piece]
    if gap > tolerance:
        return (f"served {got.piece!r} ({got.logprob:.4f}) instead of {expected['piece']!r}, not a near tie: "
                f"recorded {gap:.4f} below it (tolerance {tolerance})")
    return _logprob_problem(got.piece, recorded[got.piece], got, tolerance, deltas)


def _check_sentences(client: HttpClient, probes: dict[str, Any], extra: dict[str, Any]) -> list[ProbeResult]:
    sentences = probes["sentences"]
    answer = _post(client, "/v1/embeddings", {"input": [s["text"] for s in sentences], **extra})
    vectors = served_embeddings(answer, len(sentences), client.url("/v1/embeddings"))
    return [compare_embedding(sentence, vector, probes["min_cosine"]) for sentence, vector in zip(sentences, vectors)]


def served_embeddings(answer: Any, count: int, url: str) -> list[np.ndarray]:
    """The served vectors in the order of the inputs (the answer's `index` says which is which)."""
    try:
        data = sorted(answer["data"], key=lambda item: item["index"])
        vectors = [np.asarray(item["embedding"], dtype=np.float64) for item in data]
    except (KeyError, TypeError, ValueError) as err:
        raise ModelprepError(url, f"the answer has no embeddings ({type(err).__name__}: {err})") from None
    if len(vectors) != count or any(v.ndim != 1 for v in vectors):
        raise ModelprepError(url, f"expected {count} pooled embeddings, got {len(vectors)} "
                                  "(is the model served for embeddings, with pooling?)")
    return vectors


def compare_embedding(sentence: dict[str, Any], served: np.ndarray, min_cosine: float) -> ProbeResult:
    recorded = decode_embedding(sentence).astype(np.float64)
    if served.shape != recorded.shape:
        return ProbeResult("embedding", sentence["text"], False, None,
                           f"served {served.size} dimensions, recorded {recorded.size}")
    cosine = float(served @ recorded / (np.linalg.norm(served) * np.linalg.norm(recorded)))
    matched = cosine >= min_cosine
    return ProbeResult("embedding", sentence["text"], matched, cosine,
                       f"cosine {cosine:.6f} {'>=' if matched else '<'} {min_cosine}")
