"""Pin targets against servers that re-hash what they receive, with faults injected; verify --remote."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline.errors import ModelprepError
from pipeline.manifest.document import Manifest
from pipeline.package import Release
from pipeline.pin.pins_file import pins_path, read_pins
from pipeline.pin.run import pin_releases
from tests.pin_release import make_release, pin_params, verify_remotely
from tests.servers.faults import Fault
from tests.servers.kubo import KuboServer
from tests.servers.psa import PinningServiceServer

IMPORT = "/api/v0/dag/import"


@pytest.fixture
def release(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return make_release(tmp_path)


@pytest.fixture
def kubo():
    with KuboServer() as server:
        yield server


def manifest_cid(manifest):
    return json.loads(manifest.read_text())["content"]["package"]["cid_v1"]


def test_kubo_import_pins_the_package_through_faults(release, kubo):
    kubo.faults += [Fault(IMPORT, "status", status=503), Fault(IMPORT, "status", status=429, retry_after="0"),
                    Fault(IMPORT, "disconnect"), Fault("/api/v0/pin/ls", "status", status=502)]
    [pin] = pin_releases(pin_params(kubo={"api": kubo.url}), "kubo", [release])
    assert (pin.target, pin.status, pin.cid) == ("kubo", "pinned", manifest_cid(release))
    assert kubo.calls(IMPORT) == [503, 429, 0, 200]
    assert kubo.imports == 1
    recorded = read_pins(release)
    assert [(p.target, p.endpoint, p.status) for p in recorded] == [("kubo", kubo.url, "pinned")]
    # The node serves back exactly the package: every file re-hashed against the manifest.
    checks = verify_remotely(pin_params(), release)
    assert len(checks) == 3 and all(c.passed for c in checks), checks


def test_kubo_repin_is_a_no_op_and_a_dropped_answer_is_survived(release, kubo):
    kubo.faults.append(Fault(IMPORT, "drop"))  # the node imports, but the answer never arrives
    params = pin_params(kubo={"api": kubo.url})
    pin_releases(params, "kubo", [release])
    assert kubo.calls(IMPORT) == [0, 200]
    pin_releases(params, "kubo", [release])
    assert kubo.calls(IMPORT) == [0, 200]  # already pinned: nothing uploaded again
    assert len(read_pins(release)) == 1


def test_kubo_answering_another_cid_is_a_hard_failure(release, kubo):
    kubo.answer_root = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
    with pytest.raises(ModelprepError, match="answered CID bafybeigdyrzt.*local package is"):
        pin_releases(pin_params(kubo={"api": kubo.url}), "kubo", [release])
    assert not pins_path(release).exists()


def test_kubo_rejects_a_corrupted_car_and_nothing_is_recorded(release, kubo):
    car = Release.of(Manifest.load(release)).ensure_car()  # what the pin would write, then damaged
    data = bytearray(car.read_bytes())
    data[-100] ^= 1  # a byte inside the last block
    car.write_bytes(bytes(data))
    with pytest.raises(ModelprepError, match="import failed: .*does not hash to its CID"):
        pin_releases(pin_params(kubo={"api": kubo.url}), "kubo", [release])
    assert not kubo.pins and not pins_path(release).exists()


def test_kubo_auth_failure_is_one_clear_error(release, monkeypatch):
    with KuboServer(token="right") as server:
        params = pin_params(kubo={"api": server.url})
        monkeypatch.setenv("MODELPREP_KUBO_AUTH", "bearer:wrong")
        with pytest.raises(ModelprepError, match=r"authentication failed \(HTTP 401\); check MODELPREP_KUBO_AUTH"):
            pin_releases(params, "kubo", [release])
        assert server.calls("/api/v0/pin/ls") == [401]  # not retried
        monkeypatch.setenv("MODELPREP_KUBO_AUTH", "bearer:right")
        assert pin_releases(params, "kubo", [release])[0].status == "pinned"


def test_kubo_gives_up_after_its_retries(release, kubo):
    kubo.faults.append(Fault("/api/v0/pin/ls", "status", status=500, times=99))
    with pytest.raises(ModelprepError, match="HTTP 500 after 6 tries"):
        pin_releases(pin_params(kubo={"api": kubo.url}), "kubo", [release])
    assert len(kubo.calls("/api/v0/pin/ls")) == 6


def test_verify_remote_names_the_file_a_node_serves_changed(release, kubo):
    pin_releases(pin_params(kubo={"api": kubo.url}), "kubo", [release])
    kubo.corrupt = True
    checks = verify_remotely(pin_params(), release)
    assert {c.item.split()[0] for c in checks if not c.passed} == {"config.json", "model.bin", "modelprep.json"}
    kubo.corrupt = False
    # An IPFS path gateway the user names works the same way.
    assert all(c.passed for c in verify_remotely(pin_params(), release, gateway=kubo.url))


def test_verify_remote_without_a_pin_says_what_to_do(release):
    with pytest.raises(ModelprepError, match="no recorded pin.*--gateway"):
        verify_remotely(pin_params(), release)


def test_psa_pins_after_the_service_fetched_every_block_from_the_origin(release, kubo, monkeypatch):
    pin_releases(pin_params(kubo={"api": kubo.url}), "kubo", [release])
    origin = "/ip4/127.0.0.1/tcp/{}/http".format(kubo.url.rsplit(":", 1)[1])
    monkeypatch.setenv("MODELPREP_PSA_TOKEN", "secret-token")
    with PinningServiceServer(token="secret-token") as psa:
        psa.faults += [Fault("/pins", "status", status=503), Fault("/pins/", "delay", delay_s=0.2)]
        params = pin_params(psa={"endpoint": psa.url, "origins": (origin,), "poll_s": 0.01, "wait_s": 10.0})
        [pin] = pin_releases(params, "psa", [release])
        assert (pin.status, pin.ids["requestid"]) == ("pinned", "req-1")
        assert [(p.target, p.status) for p in read_pins(release)] == [("kubo", "pinned"), ("psa", "pinned")]
        # A re-run finds the pinned request and asks for nothing new.
        pin_releases(params, "psa", [release])
        assert len(psa.requests) == 1


def test_psa_fails_when_no_origin_holds_the_blocks(release, kubo, monkeypatch):
    origin = "/ip4/127.0.0.1/tcp/{}/http".format(kubo.url.rsplit(":", 1)[1])  # the node holds nothing yet
    monkeypatch.setenv("MODELPREP_PSA_TOKEN", "t")
    with PinningServiceServer(token="t") as psa:
        params = pin_params(psa={"endpoint": psa.url, "origins": (origin,), "poll_s": 0.01, "wait_s": 10.0})
        with pytest.raises(ModelprepError, match="pinning .* failed .*HTTP Error 500"):
            pin_releases(params, "psa", [release])
    assert not pins_path(release).exists()


def test_psa_wrong_cid_auth_and_timeout(release, monkeypatch, tmp_path):
    with PinningServiceServer(token="t") as psa:
        params = pin_params(psa={"endpoint": psa.url, "origins": (), "poll_s": 0.01, "wait_s": 0.0})
        monkeypatch.delenv("MODELPREP_PSA_TOKEN", raising=False)
        with pytest.raises(ModelprepError, match="no Pinning Service API token: set MODELPREP_PSA_TOKEN"):
            pin_releases(params, "psa", [release])
        token = tmp_path / "token.txt"
        token.write_text("wrong\n")
        with pytest.raises(ModelprepError, match=r"HTTP 401.*MODELPREP_PSA_TOKEN or --secret-file"):
            pin_releases(params, "psa", [release], secret_file=token)
        token.write_text("t\n")
        [pin] = pin_releases(params, "psa", [release], secret_file=token)  # wait_s 0: still queued
        assert pin.status == "pending" and "re-run" in pin.detail
        psa.answer_cid = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
        psa.requests.clear()
        with pytest.raises(ModelprepError, match="answered CID bafybeigdyrzt"):
            pin_releases(params, "psa", [release], secret_file=token)


PAGE = "<html><body>Welcome to nginx!</body></html>"


@pytest.mark.parametrize("path, body, content_type", [
    (IMPORT, PAGE, "text/html"),
    (IMPORT, '["a list"]', "application/json"),
    ("/api/v0/pin/ls", PAGE, "text/html"),
    ("/api/v0/pin/ls", '{"Keys": ["not", "a", "map"]}', "application/json"),
])
def test_kubo_answering_something_else_is_one_error_naming_it(release, kubo, path, body, content_type):
    kubo.faults.append(Fault(path, "body", status=200, body=body, content_type=content_type, times=99))
    with pytest.raises(ModelprepError) as caught:
        pin_releases(pin_params(kubo={"api": kubo.url}), "kubo", [release])
    message = str(caught.value)
    assert message.startswith(kubo.url + path) and content_type in message and body[:20] in message
    assert not pins_path(release).exists()


@pytest.mark.parametrize("body", [PAGE, '{"results": "none"}', '{"requestid": "1", "status": "queued", "pin": 7}'])
def test_psa_answering_something_else_is_one_error(release, monkeypatch, body):
    monkeypatch.setenv("MODELPREP_PSA_TOKEN", "t")
    with PinningServiceServer(token="t") as psa:
        psa.faults.append(Fault("/pins", "body", status=200, body=body, times=99))
        with pytest.raises(ModelprepError, match=f"^{psa.url}"):
            pin_releases(pin_params(psa={"endpoint": psa.url, "origins": [], "poll_s": 0.01, "wait_s": 1}), "psa",
                         [release])
    assert not pins_path(release).exists()


def test_a_server_trickling_its_answer_is_cut_off_and_retried(release, kubo):
    """One byte every 0.2 s never trips the per-read timeout; the pace does (after timeout_s, at least
    min_rate_kib_s on average), and the try is retried like any timeout."""
    kubo.faults.append(Fault("/api/v0/pin/ls", "trickle", delay_s=0.2, times=2))
    params = pin_params(kubo={"api": kubo.url})
    params = dataclasses.replace(params, pin=dataclasses.replace(
        params.pin, retry=dataclasses.replace(params.pin.retry, timeout_s=0.5, min_rate_kib_s=1.0)))
    [pin] = pin_releases(params, "kubo", [release])
    assert pin.status == "pinned"
    assert len(kubo.calls("/api/v0/pin/ls")) >= 3  # the two trickled answers abandoned, then the real ones
    kubo.faults.append(Fault("/api/v0/pin/ls", "trickle", delay_s=0.2, times=99))
    with pytest.raises(ModelprepError, match=r"no answer after 6 tries: Timeout"):
        pin_releases(params, "kubo", [release])
