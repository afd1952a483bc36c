"""Arweave: transaction format 2 against arweave-js's fixtures, and pinning to a real arlocal gateway
behind a proxy that checks every chunk's proof and injects faults."""

from __future__ import annotations

import hashlib
import io
import json
from itertools import count
from pathlib import Path

import pytest

from pipeline.arweave.deep_hash import deep_hash
from pipeline.arweave.encoding import b64url, b64url_decode
from pipeline.arweave.merkle import ChunkTree
from pipeline.arweave.transaction import Transaction
from pipeline.arweave.wallet import Wallet, verify
from pipeline.errors import ModelprepError
from pipeline.pin.pins_file import pins_path, read_pins
from pipeline.pin.run import pin_releases
from tests.pin_release import make_release, pin_params, verify_remotely
from tests.servers.arlocal import Arlocal, CheckingProxy, validate_path
from tests.servers.faults import Fault

FIXTURES = Path(__file__).parent / "fixtures/arweave"
WALLET = FIXTURES / "arweave-keyfile-fOVzBRTBnyt4VrUUYadBH8yras_-jhgpmNgg-5b3vEw.json"
VECTORS = json.loads((FIXTURES / "arweave_js_generated_vectors.json").read_text())


def counter_data(size: int) -> bytes:
    out = bytearray()
    for k in count():
        if len(out) >= size:
            return bytes(out[:size])
        out += hashlib.sha256(b"modelprep-arweave-vector" + k.to_bytes(8, "big")).digest()


def vector_data(vector) -> bytes:
    return bytes(vector["data_size"]) if vector["generator"] == "zeros" else counter_data(vector["data_size"])


def test_wallet_address_is_the_published_one():
    assert Wallet.load(WALLET).address == "fOVzBRTBnyt4VrUUYadBH8yras_-jhgpmNgg-5b3vEw"


def test_published_signed_transaction_verifies_and_reproduces():
    published = json.loads((FIXTURES / "signed_v2_tx.json").read_text())
    tx = Transaction.from_header(published)
    assert b64url(tx.signature_data()) == VECTORS["published_signed_v2_tx_deep_hash_b64url"]
    assert tx.verify()
    # Signed with salt length 0, so the signature is deterministic: signing the same fields reproduces it.
    tx.sign(Wallet.load(WALLET), salt_length=0)
    assert b64url(tx.signature) == published["signature"]
    # The fixture's `id` is not sha256(signature) (see fixtures/arweave/README.md); ours is.
    assert tx.id == "7-VRbv2U-0RIeiZ8DtSI5XxDxhGKeZP0tChzy0aJkkk"
    tx.tags.append(("Changed", "yes"))
    assert not verify(tx.owner, tx.signature_data(), tx.signature)


@pytest.mark.parametrize("vector", VECTORS["data_roots"], ids=lambda v: v["name"])
def test_data_root_and_chunk_proofs_match_arweave_js(vector):
    data = vector_data(vector)
    assert hashlib.sha256(data).hexdigest() == vector["data_sha256"]
    tree = ChunkTree.of_stream(io.BytesIO(data), len(data))
    assert [list(r) for r in tree.ranges if vector["data_size"]] == vector["merkle_leaves"]
    if not vector["data_size"]:
        assert vector["data_root"] == "" and not vector["uploaded_chunks"]
        return
    assert b64url(tree.data_root) == vector["data_root"]
    chunks = [{"min_byte_range": s, "max_byte_range": e, "offset": str(e - 1), "data_path": b64url(p)}
              for s, e, p in tree.chunk_proofs()]
    assert chunks == vector["uploaded_chunks"]


@pytest.mark.parametrize("vector", VECTORS["signed_transactions"], ids=lambda v: v["name"])
def test_signed_transactions_match_arweave_js(vector):
    published = vector["tx"]
    tx = Transaction.from_header(published)
    assert [list(t) for t in tx.tags] == vector["tags_plain"]
    assert b64url(tx.signature_data()) == vector["signature_data_deep_hash_b64url"]
    assert tx.verify() and tx.id == published["id"]
    tx.sign(Wallet.load(WALLET), salt_length=0)
    assert b64url(tx.signature) == published["signature"]


def test_deep_hash_tags_its_structure():
    assert deep_hash([b"a", b"b"]) != deep_hash([b"ab"]) != deep_hash(b"ab")
    assert len(deep_hash([])) == 48


def test_proof_checker_of_the_test_proxy_agrees_with_arweave_js_vectors():
    vectors = json.loads((FIXTURES / "published_merkle_vectors.json").read_text())
    good = vectors["rebar3_chunk0_data_path"]
    path = b64url_decode(good["data_path"])
    assert validate_path(b64url_decode(good["data_root"]), good["offset"], 0, good["data_size"], path)
    bad_root = vectors["rebar3_invalid_root"]["data_root"]
    assert not validate_path(b64url_decode(bad_root), good["offset"], 0, good["data_size"], path)
    bad = vectors["rebar3_invalid_path"]
    assert not validate_path(b64url_decode(bad["data_root"]), good["offset"], 0, good["data_size"],
                             b64url_decode(bad["data_path"]))


@pytest.fixture
def gateway(tmp_path):
    with Arlocal(tmp_path / "arlocal") as arlocal, CheckingProxy(arlocal.url) as proxy:
        arlocal.mint(Wallet.load(WALLET).address, 10 ** 15)
        yield arlocal, proxy


@pytest.fixture
def release(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELPREP_ARWEAVE_WALLET", str(WALLET))
    return make_release(tmp_path)


def test_arweave_pins_through_faults_then_confirms_after_mining(gateway, release):
    arlocal, proxy = gateway
    proxy.faults += [Fault("/chunk", "status", status=503, after=2), Fault("/chunk", "disconnect", after=4),
                     Fault("/tx", "status", status=429, retry_after="0"), Fault("/price", "delay", delay_s=0.2)]
    params = pin_params(arweave={"gateway": proxy.url})
    [pin] = pin_releases(params, "arweave", [release])
    assert pin.status == "pending" and not proxy.rejected
    assert len(proxy.chunk_offsets) == 13  # 3 MiB + 12345 bytes: 13 chunks, each proved and sent once
    assert set(pin.ids["transactions"]) == {"config.json", "model.bin", "modelprep.json"}
    arlocal.mine()
    [pin] = pin_releases(params, "arweave", [release])  # a re-run only checks: nothing is sent again
    assert pin.status == "pinned" and len(proxy.chunk_offsets) == 13
    assert proxy.calls("/tx").count(200) == 4  # three files and the path manifest, each posted once
    # The path manifest serves the package by file name; the tags say what each transaction is.
    manifest = pin.ids["manifest"]
    assert arlocal.get(f"/{manifest}/config.json") == (Path("build/toy/v1/config.json")).read_bytes()
    header = json.loads(arlocal.get(f"/tx/{pin.ids['transactions']['model.bin']}"))
    tags = {b64url_decode(t["name"]).decode(): b64url_decode(t["value"]).decode() for t in header["tags"]}
    recorded = json.loads(Path(release).read_text())
    assert tags["File-SHA256"] == recorded["files"][1]["sha256"]
    assert tags["IPFS-CID"] == recorded["content"]["files"]["model.bin"]["cid_v1"]
    assert tags["App-Name"] == "modelprep" and tags["Package-CID"] == recorded["content"]["package"]["cid_v1"]
    assert all(c.passed for c in verify_remotely(params, release))
    proxy.corrupt = True
    assert {c.item.split()[0] for c in verify_remotely(params, release) if not c.passed} == {
        "config.json", "model.bin", "modelprep.json"}


def test_interrupted_upload_resumes_at_the_next_missing_chunk(gateway, release):
    _, proxy = gateway
    proxy.faults.append(Fault("/chunk", "status", status=500, times=99, after=5))
    params = pin_params(arweave={"gateway": proxy.url})
    with pytest.raises(ModelprepError, match="HTTP 500 after 6 tries"):
        pin_releases(params, "arweave", [release])
    assert len(proxy.chunk_offsets) == 5 and not pins_path(release).exists()
    proxy.faults.clear()
    [pin] = pin_releases(params, "arweave", [release])
    # Chunks 6..13 only, in order, under the transaction signed before the interruption; arlocal joins
    # chunks in the order they arrive, so a chunk sent twice would change the data read back.
    assert proxy.chunk_offsets == sorted(proxy.chunk_offsets) and len(proxy.chunk_offsets) == 13
    assert pin.status == "pending" and [p.target for p in read_pins(release)] == ["arweave"]


def test_a_file_read_back_with_other_bytes_is_a_hard_failure(gateway, release):
    _, proxy = gateway
    proxy.corrupt = True
    with pytest.raises(ModelprepError, match="reads back with sha256 .* not the recorded"):
        pin_releases(pin_params(arweave={"gateway": proxy.url}), "arweave", [release])
    assert not pins_path(release).exists()


def test_wallet_problems_are_one_clear_error(gateway, release, tmp_path, monkeypatch):
    _, proxy = gateway
    params = pin_params(arweave={"gateway": proxy.url})
    broken = tmp_path / "wallet.json"
    broken.write_text('{"kty": "RSA", "n": "AQAB"}')
    with pytest.raises(ModelprepError, match=r"wallet.json: not an Arweave JWK wallet \(RSA key\): missing e, d"):
        pin_releases(params, "arweave", [release], secret_file=broken)
    monkeypatch.delenv("MODELPREP_ARWEAVE_WALLET")
    with pytest.raises(ModelprepError, match="set MODELPREP_ARWEAVE_WALLET or pass --secret-file"):
        pin_releases(params, "arweave", [release])
    poor = tmp_path / "poor.json"
    from pipeline.arweave.wallet import new_jwk

    poor.write_text(json.dumps(new_jwk()))
    with pytest.raises(ModelprepError, match="HTTP 410: .*enough tokens"):
        pin_releases(params, "arweave", [release], secret_file=poor)
