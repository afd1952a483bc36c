"""Release packages: their CIDs are what `ipfs add -r` gives the package directory, their CARs hold
every block, `modelprep verify` catches any changed byte, and the index lists every release."""

from __future__ import annotations

import json
import os
import shutil

import pyarrow.parquet as pq

from pipeline.fileio import dumps_json
from pipeline.ipfs.directory import add_path
from pipeline.layout import Layout
from pipeline.manifest.document import CONTENT, MANIFEST_ONLY, Manifest
from pipeline.package import RECORD_FILE, V0, V1, Release
from tests.project import BIN, MODELS, VARIANTS, run, signing_key

RELEASES = [(m, v) for m in MODELS for v in VARIANTS]


def manifest(built, model, variant):
    return json.loads((built / "manifests" / model / f"{variant}.json").read_text())


def test_package_cids_are_those_of_the_package_directory(built, tmp_path):
    for model, variant in (("tiny-llama", "Q4_K_M"), ("all-minilm-l6-v2", "onnx-int4")):
        record = manifest(built, model, variant)
        content = record[CONTENT]
        for key in MANIFEST_ONLY:  # the package's modelprep.json is the manifest without these (if it has them)
            record.pop(key, None)
        folder = tmp_path / f"{model}-{variant}"
        artifact = built / record["artifact"]
        for entry in record["files"]:
            target = folder / entry["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(artifact / entry["path"], target)
        (folder / RECORD_FILE).write_text(dumps_json(record), encoding="utf-8")
        assert str(add_path(folder, V1).cid) == content["package"]["cid_v1"]
        assert str(add_path(folder, V0).cid) == content["package"]["cid_v0"]
        for entry in record["files"]:
            assert str(add_path(folder / entry["path"], V1).cid) == content["files"][entry["path"]]["cid_v1"]
        assert set(content) == {"car", "files", "package"}  # pins are recorded beside the manifest


def test_every_car_is_its_package_as_the_manifest_counted_it(built, monkeypatch):
    """The release stage counts each package's CAR (size, blocks) without writing it; written when a pin
    needs it, from the package files, it is that CAR."""
    monkeypatch.chdir(built)
    for model, variant in RELEASES:
        content = manifest(built, model, variant)[CONTENT]
        car = Release.of(Manifest.load(f"manifests/{model}/{variant}.json")).ensure_car()
        assert car.stat().st_size == content["car"]["size"]
        checked = run([str(BIN / "modelprep"), "car-verify", str(car)], cwd=built).stdout
        assert f"root {content['package']['cid_v1']}, {content['car']['blocks']} blocks" in checked


def replace_bytes(path, data: bytes) -> None:
    path.with_name(path.name + ".tmp").write_bytes(data)
    os.replace(path.with_name(path.name + ".tmp"), path)


def test_verify_passes_and_names_a_flipped_byte(built, tmp_path):
    path = Layout(built).artifact("tiny-llama", "onnx-int4") / "tokenizer.json"
    unsigned = run([str(BIN / "modelprep"), "verify", "manifests/tiny-llama/onnx-int4.json"], cwd=built, check=False)
    assert unsigned.returncode == 1 and "not signed (no onnx-int4.sig.json" in unsigned.stdout
    key, public = signing_key(tmp_path)
    run([str(BIN / "modelprep"), "sign", "--key", str(key), "manifests/tiny-llama/onnx-int4.json"], cwd=built)
    verify = [str(BIN / "modelprep"), "verify", "--trusted-key", public, "manifests/tiny-llama/onnx-int4.json"]
    result = run(verify, cwd=built)
    assert "FAIL" not in result.stdout and result.stdout.count("ok  ") >= 2 * 9 + 9 + 2
    original = path.read_bytes()
    try:
        # Replaced, not written in place: the workspace file may be a hard link into the DVC cache.
        replace_bytes(path, original[:100] + bytes([original[100] ^ 1]) + original[101:])
        failed = run(verify, cwd=built, check=False)
    finally:
        replace_bytes(path, original)
    assert failed.returncode == 1
    bad = [line for line in failed.stdout.splitlines() if line.startswith("FAIL")]
    assert bad and all("tokenizer.json" in line or "package" in line for line in bad)
    assert "first: tokenizer.json (build/tiny-llama/variants/onnx-int4/tokenizer.json)" in failed.stderr


def test_index_lists_every_release(built):
    run([str(BIN / "modelprep"), "index"], cwd=built)
    rows = json.loads((built / "manifests/index.json").read_text())["variants"]
    assert [(r["model"], r["variant"]) for r in rows] == RELEASES
    assert pq.read_table(built / "manifests/index.parquet").to_pylist() == rows
    for row in rows:
        assert row["package_cid_v1"] == manifest(built, row["model"], row["variant"])[CONTENT]["package"]["cid_v1"]


def test_cli_pins_releases_to_arlocal_records_them_and_verifies_them_remotely(built, tmp_path):
    """`modelprep pin --target arweave` (what `make release PIN=arweave` runs) against a real arlocal."""
    from pipeline.arweave.wallet import Wallet
    from tests.servers.arlocal import Arlocal
    from tests.test_arweave import WALLET

    chosen = ["manifests/tiny-llama/Q4_K_M.json", "manifests/all-minilm-l6-v2/onnx-int4.json"]
    modelprep = [str(BIN / "modelprep")]
    key, public = signing_key(tmp_path)
    run([*modelprep, "sign", "--key", str(key), *chosen], cwd=built)
    try:
        with Arlocal(tmp_path / "arlocal") as arlocal:
            arlocal.mint(Wallet.load(WALLET).address, 10 ** 15)
            pin = [*modelprep, "pin", "--target", "arweave", "--endpoint", arlocal.url, *chosen]
            first = run(pin, cwd=built, env={"MODELPREP_ARWEAVE_WALLET": str(WALLET)})
            assert "0 package(s) pinned at arweave, 2 pending" in first.stdout
            arlocal.mine()
            assert "2 package(s) pinned at arweave, 0 pending" in run(pin, cwd=built).stdout  # no wallet needed now
            for path in chosen:
                pins = json.loads((built / path.replace(".json", ".pins.json")).read_text())
                [entry] = pins["pins"]
                assert entry["status"] == "pinned" and entry["cid"] == pins["package_cid_v1"]
                files = manifest(built, *path[len("manifests/"):-len(".json")].split("/"))["files"]
                assert set(entry["ids"]["transactions"]) == {f["path"] for f in files} | {RECORD_FILE}
                checked = run([*modelprep, "verify", "--remote", "--trusted-key", public, path], cwd=built).stdout
                # schema, signature and provenance, then every file and the record read back
                assert checked.count("ok  ") == 3 + len(files) + 1 and "FAIL" not in checked
            run([*modelprep, "index"], cwd=built)
            rows = {(r["model"], r["variant"]): r["pins"]
                    for r in json.loads((built / "manifests/index.json").read_text())["variants"]}
            assert rows[("tiny-llama", "Q4_K_M")] == [f"arweave pinned {arlocal.url}"]
            assert rows[("tiny-llama", "Q8_0")] == []
    finally:
        for path in chosen:
            (built / path.replace(".json", ".pins.json")).unlink(missing_ok=True)
            (built / path.replace(".json", ".sig.json")).unlink(missing_ok=True)
        run([*modelprep, "index"], cwd=built)
