"""The house rules, checked on the code: no import cycle, no module over 400 lines, and a new format is
one registered package that the rest of modelprep picks up without an edit."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline import formats
from pipeline.formats.base import Format, QuantizeInputs, Variant
from pipeline.settings import Reader, SettingsFile
from tests.code_graph import REPO, cycles, modules

MAX_LINES = 400


def test_no_import_cycles():
    assert cycles() == []


def test_no_module_over_the_limit():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


@dataclasses.dataclass(frozen=True)
class TextSettings:
    variants: dict[str, Any]


class TextFormat(Format):
    """A made-up format: a variant is its model's config.json upper-cased, for the registry test."""

    name, colour, runtime_library, runtimes, memory = "text", "#2ca02c", "json", ("cat",), None

    def read_settings(self, r: Reader, data, where):
        data = r.mapping(data, where)
        return TextSettings({name: r.section(entry or {}, f"{where}.variants.{name}", _Upper)
                             for name, entry in r.mapping(data.get("variants", {}), f"{where}.variants").items()})

    def build_base(self, hf_dir, kind, settings, out_dir):
        out_dir.mkdir(parents=True)
        (out_dir / "config.json").write_bytes((hf_dir / "config.json").read_bytes())

    def quantize(self, variant, model, inputs, out_dir):
        out_dir.mkdir(parents=True)
        text = (inputs.base_dir / "config.json").read_text()
        (out_dir / "config.txt").write_text(text.upper() if variant.settings.upper else text)
        return 0.0

    def base_bytes(self, settings, parameters):
        return 4096

    def variant_bytes(self, variant, parameters):
        return 4096

    def size(self, artifact, parameters):
        return {"bytes": (artifact / "config.txt").stat().st_size, "bits_per_weight": 0.0}

    def recognises(self, path):
        return (path / "config.txt").is_file()

    def describe(self, path):
        return {"characters": len((path / "config.txt").read_text())}

    def quantization(self, variant, artifact):
        return {"type": variant.name, "precision": "text", "upper": variant.settings.upper}

    def gpu_build(self):
        return False

    def open(self, artifact, kind, spec):
        raise AssertionError("not run here")

    def requirements(self, record):
        return [{"runtime": "cat"}]


@dataclasses.dataclass(frozen=True)
class _Upper:
    upper: bool


@pytest.fixture
def text_format():
    formats.register(TextFormat())
    yield formats.get("text")
    formats.unregister("text")


def _params_with_text(tmp_path: Path) -> Path:
    """The shipped params.yaml plus a `text` section with one variant, merged into `variants` as a user would."""
    source = (REPO / "params.yaml").read_text()
    source = source.replace("  <<: [*gguf_variants, *onnx_variants]",
                            "  <<: [*gguf_variants, *onnx_variants, *text_variants]")
    # The section must come before `variants`, which refers to its anchor.
    source = source.replace("\nvariants:\n", "\ntext:\n  variants: &text_variants\n    shout: {upper: true}\n"
                            "\nvariants:\n", 1)
    path = tmp_path / "params.yaml"
    path.write_text(source.replace("\ngates:\n", "\ngates:\n  shout: {max_mean_kld: 1.0}\n", 1))
    return path


def test_a_new_format_is_one_registered_package(text_format, tmp_path):
    from pipeline.params import load_params

    params = load_params(_params_with_text(tmp_path))
    variant = params.variant("shout")
    assert variant.format is text_format and variant.settings.upper is True
    assert list(params.variants)[-1] == "shout", "the new format's variants come with the others"
    assert formats.serving_runtimes()["cat"] is text_format

    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text(json.dumps({"model_type": "llama"}))
    text_format.build_base(hf, "decoder", params.variants["shout"].format_settings, tmp_path / "base")
    text_format.quantize(variant, "m", QuantizeInputs(tmp_path / "base", tmp_path, tmp_path), tmp_path / "shout")
    assert formats.of_artifact(tmp_path / "shout") is text_format
    assert text_format.files(tmp_path / "shout") == {"config.txt": tmp_path / "shout" / "config.txt"}
    assert "LLAMA" in (tmp_path / "shout" / "config.txt").read_text()


def test_an_unmerged_format_is_one_clear_error(text_format, tmp_path):
    path = _params_with_text(tmp_path)
    path.write_text(path.read_text().replace(", *text_variants]", "]"))
    with pytest.raises(Exception, match=r"'variants' lacks 'shout'; it must merge every format's variants"):
        formats.read_variants(SettingsFile.load(path))


def test_variant_objects_name_their_format():
    variants = formats.read_variants(SettingsFile.load(REPO / "params.yaml"))
    assert {v.format.name for v in variants.values()} == {"gguf", "onnx"}
    assert all(isinstance(v, Variant) for v in variants.values())
