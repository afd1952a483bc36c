"""`modelprep probe`: a manifest's probes against llama-cpp-python's real OpenAI-compatible server.

The expected probes are recorded from the built GGUFs with build_probes, on the CPU as the build
without a GPU records them; the servers load the same files, or another variant of them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipeline import formats
from pipeline.errors import ModelprepError
from pipeline.layout import Layout
from pipeline.manifest import keys
from pipeline.manifest.document import Manifest
from pipeline.manifest.signing import sign_manifest
from pipeline.params import load_params
from pipeline.probes.build import build_probes
from pipeline.probes.check import TOKEN_ENV, check_endpoint
from tests.project import BIN, run
from tests.servers.faults import Answer, Fault, FaultyServer, Request
from tests.servers.process import ServerProcess, free_port

DECODER, ENCODER = "tiny-llama", "all-minilm-l6-v2"
TOKEN = "probe-test-token-7f3a"  # the decoder server's API key
BUILDER_KEY = keys.new_private_key()
ROW = re.compile(r"^(match   |MISMATCH)  (completion|embedding) '(.*?)'\s{2,}(\S.*)$")


def gguf(built: Path, model: str, variant: str) -> Path:
    return Layout(built).artifact(model, variant) / f"{model}-{variant}.gguf"


def recorded_probes(built: Path, model: str, kind: str) -> dict:
    """build_probes' record of the released Q8_0, on the CPU."""
    params = load_params(built / "params.yaml")
    runtime = formats.get("gguf").open(gguf(built, model, "Q8_0"), kind, dataclasses.replace(params.evaluation,
                                                                                              device="cpu"))
    try:
        return build_probes(runtime, kind, params.probes, params.evaluation.window)
    finally:
        runtime.close()


def llama_server(artifact: Path, *options: str) -> ServerProcess:
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(artifact), "--n_ctx", "256",
               "--host", "127.0.0.1", "--port", str(port), "--verbose", "false", *options]
    # /openapi.json answers without the API key, unlike the /v1 routes.
    return ServerProcess("llama_cpp.server", command, port, "/openapi.json")


class Proxy(FaultyServer):
    """Forwards to `upstream`, keeping each request's JSON body and Authorization header; `page` answers
    every request with HTTP 200 and an HTML page instead, as a web front end on the wrong URL would."""

    def __init__(self, upstream: str):
        super().__init__()
        self.upstream, self.page = upstream, False
        self.bodies: list[dict] = []
        self.auth: list[str | None] = []

    def handle(self, request: Request) -> Answer:
        self.bodies.append(json.loads(request.body))
        self.auth.append(request.headers.get("Authorization"))
        if self.page:
            return Answer(200, "<html><body>Sign in</body></html>", "text/html")
        forward = urllib.request.Request(self.upstream + request.path, data=request.body, method=request.method,
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": request.headers.get("Authorization", "")})
        try:
            with urllib.request.urlopen(forward, timeout=60) as answer:
                return Answer(answer.status, answer.read())
        except urllib.error.HTTPError as err:
            return Answer(err.code, err.read())


@pytest.fixture(scope="module")
def decoder_probes(built) -> dict:
    return recorded_probes(built, DECODER, "decoder")


@pytest.fixture(scope="module")
def decoder(built):
    with llama_server(gguf(built, DECODER, "Q8_0"), "--logits_all", "true", "--api_key", TOKEN) as server:
        yield server.url


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def write_manifest(path: Path, probes: dict | None) -> Path:
    """A manifest holding `probes`, signed by the test's builder key, at manifests/<model>/<path's name>
    beside `path` (probe acts only on a trusted signature for that name)."""
    manifest = path.parent / "manifests" / DECODER / path.name
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"model": DECODER, "variant": path.stem, **({"probes": probes} if probes else {})}))
    sign_manifest(Manifest.load(manifest), BUILDER_KEY)
    return manifest


def probe(manifest: Path, endpoint: str, *extra: str):
    return run([str(BIN / "modelprep"), "probe", str(manifest), "--endpoint", endpoint, "--trusted-key",
                keys.public_text(BUILDER_KEY.public_key()), *extra], cwd=manifest.parent, check=False,
               env={TOKEN_ENV: TOKEN})


def rows(output: str) -> list[tuple[str, str, str, str]]:
    """(status, kind, text, detail) per table line."""
    return [match.groups() for line in output.splitlines() if (match := ROW.match(line))]


def test_served_q8_0_matches_its_own_probes_through_the_cli(decoder, decoder_probes, tmp_path):
    manifest = write_manifest(tmp_path / "Q8_0.json", decoder_probes)
    result = probe(manifest, decoder + "/v1")  # the OpenAI base URL works as well as the root
    assert result.returncode == 0, result.stdout + result.stderr
    table = rows(result.stdout)
    assert [(status, kind, text) for status, kind, text, _ in table] == [
        ("match   ", "completion", prompt["prompt"]) for prompt in decoder_probes["prompts"]]
    for (*_, detail), prompt in zip(table, decoder_probes["prompts"]):
        # The server decodes incrementally with its KV cache, build_probes recomputes the whole
        # sequence per step, and llama.cpp's CPU kernels for one token and for a batch round differently
        # (up to 1.3e-3 nats seen on an AMD EPYC, 5e-5 on another): far inside the tolerance of 0.1.
        worst = re.fullmatch(rf"{len(prompt['steps'])} step\(s\) as recorded; max \|delta logprob\| (\S+)", detail)
        assert worst and float(worst[1]) <= 5e-3, detail
    assert result.stderr == ""


def test_the_request_is_greedy_with_the_recorded_top_k_and_retries_a_503(decoder, decoder_probes, token):
    with Proxy(decoder) as proxy:
        proxy.faults.append(Fault("/v1/completions", "status", status=503))
        results = check_endpoint(decoder_probes, proxy.url, model="tiny")
        assert proxy.calls("/v1/completions") == [503, 200, 200, 200]
    assert all(r.matched for r in results), results
    first = decoder_probes["prompts"][0]
    assert proxy.bodies[0] == {"prompt": first["prompt"], "max_tokens": len(first["steps"]), "temperature": 0,
                               "top_k": 1, "repeat_penalty": 1.0, "logprobs": decoder_probes["top_k"], "echo": False,
                               "model": "tiny"}
    assert set(proxy.auth) == {f"Bearer {TOKEN}"}


def test_another_variant_served_is_a_mismatch_with_its_reason(built, decoder_probes, tmp_path):
    manifest = write_manifest(tmp_path / "Q8_0.json", decoder_probes)
    with llama_server(gguf(built, DECODER, "Q4_0"), "--logits_all", "true", "--api_key", TOKEN) as server:
        result = probe(manifest, server.url)
    assert result.returncode == 1
    table = rows(result.stdout)
    assert len(table) == len(decoder_probes["prompts"])
    mismatches = [detail for status, *_, detail in table if status == "MISMATCH"]
    assert mismatches, result.stdout
    for detail in mismatches:  # a logprob off by more than the tolerance, or a token the record does not hold
        assert re.match(r"step \d+: ('.*' has logprob -\d+\.\d{4} served, -\d+\.\d{4} recorded "
                        r"\(\|delta\| \d\.\d{4} > 0\.1\)|recorded '.*' is not in the served top-k|served '.*', "
                        r"not in the recorded top-5|served .*, not a near tie)", detail), detail
    assert result.stderr.startswith(f"modelprep: error: {manifest}: {len(mismatches)} of {len(table)} probe(s) do "
                                    f"not match what {server.url} serves, first: completion ")


def test_a_tampered_logprob_beyond_tolerance_is_a_mismatch_naming_the_step(decoder, decoder_probes, token):
    tampered = json.loads(json.dumps(decoder_probes))
    step = tampered["prompts"][1]["steps"][2]
    step["logprob"] = step["top"][0]["logprob"] = round(step["logprob"] - 0.15, 4)
    results = check_endpoint(tampered, decoder)
    assert [r.matched for r in results] == [True, False, True]
    assert results[1].figure == pytest.approx(0.15, abs=2e-4)
    served = re.fullmatch(rf"step 3: {re.escape(repr(step['piece']))} has logprob (-\d\.\d{{4}}) served, "
                          rf"{step['logprob']:.4f} recorded \(\|delta\| 0\.1[45]\d\d > 0\.1\); "
                          r"max \|delta logprob\| 0\.15?\d*", results[1].detail)
    assert served and float(served[1]) == pytest.approx(step["logprob"] + 0.15, abs=2e-4), results[1].detail

    # Within tolerance it still matches.
    step["logprob"] = step["top"][0]["logprob"] = round(step["logprob"] + 0.1, 4)
    assert all(r.matched for r in check_endpoint(tampered, decoder))


def near_tie(probes: dict) -> tuple[int, int]:
    """(prompt, step) of the first recorded step whose runner-up is within tolerance of the greedy token."""
    return next((p, s) for p, prompt in enumerate(probes["prompts"]) for s, step in enumerate(prompt["steps"])
                if step["top"][0]["logprob"] - step["top"][1]["logprob"] <= probes["logprob_tolerance"])


def test_a_near_tie_served_the_other_way_matches_and_stops_there(decoder, decoder_probes, token):
    """A record whose greedy token and runner-up trade places at a near tie: the server's choice is the other one."""
    swapped = json.loads(json.dumps(decoder_probes))
    p, s = near_tie(swapped)
    step = swapped["prompts"][p]["steps"][s]
    greedy, runner_up = step["top"][:2]
    greedy["logprob"], runner_up["logprob"] = runner_up["logprob"], greedy["logprob"]
    step["top"][:2] = [runner_up, greedy]
    step.update(runner_up)
    result = check_endpoint(swapped, decoder)[p]
    assert result.matched, result.detail
    assert result.detail.startswith(f"{s} step(s) as recorded, then a near tie at step {s + 1} ({greedy['piece']!r} "
                                    f"served, {runner_up['piece']!r} recorded), compared no further")

    # The same swap where the runner-up is beyond tolerance is a mismatch.
    runner_up["logprob"] = step["logprob"] = round(greedy["logprob"] + 0.2, 4)
    result = check_endpoint(swapped, decoder)[p]
    assert not result.matched
    assert result.detail.startswith(f"step {s + 1}: {runner_up['piece']!r} has logprob ")


def error_lines(stderr: str) -> list[str]:
    """The error lines of a command's stderr (retries are logged there too, as progress)."""
    return [line for line in stderr.splitlines() if line.startswith("modelprep: error: ")]


def test_endpoint_down_non_json_or_no_probes_is_one_clear_error(decoder, decoder_probes, tmp_path):
    manifest = write_manifest(tmp_path / "Q8_0.json", decoder_probes)
    down = f"http://127.0.0.1:{free_port()}"
    result = probe(manifest, down)
    assert result.returncode == 1 and result.stdout == ""
    refused = f"modelprep: error: {down}/v1/completions: no answer after 3 tries: ConnectionError"
    assert error_lines(result.stderr) == [refused]

    with Proxy(decoder) as proxy:
        proxy.page = True
        result = probe(manifest, proxy.url)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"modelprep: error: {proxy.url}/v1/completions: answered HTTP 200 with text/html, not "
                             "JSON ('<html><body>Sign in</body></html>'); is it an OpenAI-compatible endpoint?\n")

    bare = write_manifest(tmp_path / "bare.json", None)
    result = probe(bare, decoder)
    assert result.returncode == 1
    assert result.stderr == (f"modelprep: error: {bare}: has no probes to run (its 'probes' key is missing or not a "
                             "probe record)\n")


def test_a_wrong_token_is_an_auth_error_that_never_shows_it(decoder, decoder_probes, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "not-the-key")
    with pytest.raises(ModelprepError) as err:
        check_endpoint(decoder_probes, decoder)
    assert str(err.value) == (f"{decoder}/v1/completions: authentication failed (HTTP 401); "
                              f"check {TOKEN_ENV}")


def test_encoder_embeddings_match_theirs_and_not_another_variants(built, tmp_path):
    probes = recorded_probes(built, ENCODER, "encoder")
    manifest = write_manifest(tmp_path / "Q8_0.json", probes)
    with llama_server(gguf(built, ENCODER, "Q8_0"), "--embedding", "true", "--logits_all", "false") as server:
        result = probe(manifest, server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    table = rows(result.stdout)
    assert [text for _, _, text, _ in table] == [s["text"] for s in probes["sentences"]]
    for status, kind, _, detail in table:
        assert (status, kind) == ("match   ", "embedding")
        # float16 storage bounds how close the recorded vector can be.
        assert float(re.fullmatch(r"cosine (\S+) >= 0.999", detail)[1]) > 0.99999

    with llama_server(gguf(built, ENCODER, "Q4_0"), "--embedding", "true", "--logits_all", "false") as server:
        results = check_endpoint(probes, server.url)
    assert not any(r.matched for r in results), results
    assert all(re.fullmatch(r"cosine 0\.\d{6} < 0.999", r.detail) for r in results), results


def test_every_runtime_words_pieces_alike(built):
    """Probes are compared by token text, so ONNX Runtime's pieces (decoded by offset after the prompt) must
    be llama.cpp's: the same token, the same text, leading space included."""
    def pieces(variant):
        probes = json.loads((built / f"manifests/tiny-llama/{variant}.json").read_text())["probes"]
        return {top["token"]: top["piece"] for prompt in probes["prompts"] for step in prompt["steps"]
                for top in step["top"]}

    gguf_pieces, onnx_pieces = pieces("F16"), pieces("onnx-fp32")
    common = gguf_pieces.keys() & onnx_pieces.keys()
    assert len(common) >= 20
    assert {t: onnx_pieces[t] for t in common} == {t: gguf_pieces[t] for t in common}
    assert any(piece.startswith(" ") for piece in gguf_pieces.values())


def test_endpoint_with_credentials_is_refused(built):
    manifest = json.loads((built / "manifests/tiny-llama/Q8_0.json").read_text())
    for endpoint in ("http://user:secret@127.0.0.1:1", "http://127.0.0.1:1/?api_key=secret"):
        with pytest.raises(ModelprepError) as caught:
            check_endpoint(manifest["probes"], endpoint)
        assert str(caught.value).startswith("--endpoint: holds ")
        assert "secret" not in str(caught.value)
