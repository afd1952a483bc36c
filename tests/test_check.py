"""`modelprep check`: the pre-deployment checklist, each item failing with its reason."""

from __future__ import annotations

import json
import shutil

from tests.project import BIN, run, signing_key

MANIFEST = "manifests/tiny-llama/Q8_0.json"


def lines(output: str) -> dict[str, str]:
    """{item: 'PASS reason' or 'FAIL reason'} from the check table."""
    table = {}
    for line in output.splitlines():
        status, _, rest = line.partition("  ")
        if status in ("PASS", "FAIL"):
            item, _, reason = rest.strip().partition(" ")
            table[item] = f"{status} {reason.strip()}"
    return table


def test_checklist_passes_what_is_set_and_names_what_is_missing(built, tmp_path):
    key, public = signing_key(tmp_path)
    modelprep = [str(BIN / "modelprep")]
    manifest = tmp_path / MANIFEST  # a copy, named as the original: a signature is for one model and variant
    manifest.parent.mkdir(parents=True)
    shutil.copyfile(built / MANIFEST, manifest)
    run([*modelprep, "sign", "--key", str(key), str(manifest)], cwd=built)
    check = [*modelprep, "check", "--trusted-key", public]
    result = run([*check, str(manifest)], cwd=built, check=False)
    table = lines(result.stdout)
    assert result.returncode == 0, result.stdout
    for item in ("schema", "signature", "files", "package", "runtime", "budget", "latency", "verification"):
        assert table[item].startswith("PASS"), (item, table[item])
    assert table["budget"] == "PASS at most $0.002 per 1k tokens, $0.05 per task"
    probes = json.loads(manifest.read_text())["probes"]
    assert table["verification"] == f"PASS 3 completion probe(s) recorded on llama.cpp {probes['build']}"
    assert lines(run([*check, "--runtime", "onnxruntime", str(manifest)], cwd=built,
                     check=False).stdout)["runtime"] == "FAIL onnxruntime runs onnx, this variant is gguf"

    # A removed budget cap fails the checklist (and the schema), saying which.
    data = json.loads(manifest.read_text())
    del data["deployment"]["max_price_per_task_usd"]
    data["deployment"]["fallback_nodes"] = 0
    data["probes"]["prompts"] = []
    data["files"][0]["sha256"] = "0" * 64
    manifest.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    table = lines(run([*check, str(manifest)], cwd=built, check=False).stdout)
    assert table["budget"] == "FAIL max_price_per_task_usd not set"
    assert table["schema"].startswith("FAIL deployment: 'max_price_per_task_usd' is a required property")
    assert table["signature"].startswith("FAIL the signature in Q8_0.sig.json does not match")
    assert table["latency"].startswith("FAIL SLA 2000 ms with 0 fallback node(s)")
    assert table["verification"] == "FAIL verification by probes, but the manifest has no probes"
    assert table["files"].startswith("FAIL tiny-llama-Q8_0.gguf (") and "sha256" in table["files"]
    shutil.rmtree(manifest.parent)
