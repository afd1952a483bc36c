"""A base or importance matrix that no variant reads is not built: the stage writes only why (on a 70B
model either costs hours, and the ONNX base 280 GB of disk); build/plan.json says which are read."""

from __future__ import annotations

import json
import sys

import yaml

from pipeline.layout import Layout
from tests.project import REPO, run, write_params


def test_a_format_without_variants_gets_no_base_and_no_variant_no_importance_matrix(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["onnx"]["variants"] = {}
    params["gguf"]["variants"] = {"Q8_0": {"type": "Q8_0"}}
    params["variants"] = dict(params["gguf"]["variants"])
    params["gates"] = {"Q8_0": params["gates"]["Q8_0"]}
    write_params(tmp_path / "params.yaml", params)
    layout = Layout(tmp_path)
    layout.model("tiny-llama").mkdir(parents=True)
    layout.source_record("tiny-llama").write_text(json.dumps({"kind": "decoder"}))  # all the stages read of it

    def stage(script: str, *args: str):
        result = run([sys.executable, str(REPO / "stages" / script), "--model", "tiny-llama", *args], cwd=tmp_path,
                     check=False)
        assert result.returncode == 0, result.stderr
        return result.stderr

    run([sys.executable, str(REPO / "stages/plan.py")], cwd=tmp_path)
    plan = layout.plan.read_bytes()
    assert json.loads(plan) == {"bases": {"gguf": True, "onnx": False}, "imatrix": False}
    logged = stage("base.py", "--format", "onnx")
    assert "not built: params.yaml 'onnx.variants' is empty: no variant reads it" in logged
    base = layout.base("tiny-llama", "onnx")
    assert [p.name for p in base.iterdir()] == ["not-built.json"]
    assert json.loads((base / "not-built.json").read_text())["built"] is False

    assert "no importance matrix: no GGUF variant asks for one" in stage("imatrix.py")
    record = layout.imatrix("tiny-llama")
    assert [p.name for p in record.iterdir()] == ["imatrix.json"]
    assert json.loads((record / "imatrix.json").read_text()) == {"computed": False,
                                                                 "reason": "no GGUF variant has imatrix: true"}

    # Another GGUF variant changes no answer, so the plan's bytes (what the base and imatrix stages depend
    # on) stay the same and DVC rebuilds neither; the first ONNX variant changes them.
    params["gguf"]["variants"]["Q4_0"] = {"type": "Q4_0"}
    write_params(tmp_path / "params.yaml", params)
    run([sys.executable, str(REPO / "stages/plan.py")], cwd=tmp_path)
    assert layout.plan.read_bytes() == plan
    params["onnx"]["variants"] = {"onnx-int8": yaml.safe_load((REPO / "params.yaml").read_text())["onnx"]["variants"][
        "onnx-int8"]}
    write_params(tmp_path / "params.yaml", params)
    run([sys.executable, str(REPO / "stages/plan.py")], cwd=tmp_path)
    assert json.loads(layout.plan.read_text())["bases"]["onnx"] is True
