"""Hugging Face folder -> fp32 ONNX: the base every ONNX variant is made from.

Decoders go through ONNX Runtime GenAI's model builder (`genai_builder.py`), which writes the graph
ONNX Runtime GenAI runs and its genai_config.json, holding about one copy of the weights as stored.
Encoders are exported by optimum-onnx as `feature-extraction` (hidden states; pooling stays outside
the graph, as the sentence-transformers files copied alongside describe it): the builder makes
generative models only, and embedding models are small. Either way weights of
`onnx.external_data_min_mib` or more go to model.onnx.data, and the tokenizer and config travel with
the graph.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from pipeline.errors import ModelprepError, first_line
from pipeline.fileio import atomic_path
from pipeline.formats.onnx.files import (
    DATA_FILE,
    MODEL_FILE,
    check_model,
    load_model,
    model_bytes,
    save_model,
)
from pipeline.formats.onnx.genai_builder import build_decoder
from pipeline.progress import human_bytes, log

STAGE = "export_onnx"
ENCODER_TASK = "feature-extraction"
# Files of the Hugging Face folder a node needs beside the graph: the model's config, and
# sentence-transformers' description of pooling.
CONFIG_FILES = ("config.json", "generation_config.json")
SENTENCE_TRANSFORMERS_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json")


def export_onnx(hf_dir: Path, kind: str, opset: int, external_min_bytes: int, out_dir: Path) -> None:
    config = json.loads((hf_dir / "config.json").read_text(encoding="utf-8"))
    architecture = "/".join(config.get("architectures") or ["?"])
    with atomic_path(out_dir, directory=True) as tmp:
        if kind == "decoder":
            log(STAGE, f"{hf_dir} ({architecture}) -> ONNX with ONNX Runtime GenAI's model builder, float32")
            build_decoder(hf_dir, tmp)
            if model_bytes(tmp) < external_min_bytes:  # small enough for one protobuf file, as optimum writes it
                model = load_model(tmp)
                (tmp / DATA_FILE).unlink()
                save_model(model, tmp, external_min_bytes)
        else:
            log(STAGE, f"{hf_dir} ({architecture}) -> ONNX opset {opset} with optimum-onnx, task {ENCODER_TASK}")
            _optimum(hf_dir, architecture, opset, external_min_bytes, tmp, out_dir)
        check_model(tmp, f"export of {hf_dir}", out_dir, kind)
        _copy_companions(hf_dir, tmp)
    log(STAGE, f"wrote {out_dir} (model {human_bytes(model_bytes(out_dir))})")


def _optimum(hf_dir: Path, architecture: str, opset: int, external_min_bytes: int, tmp: Path, out_dir: Path) -> None:
    from optimum.exporters.onnx import main_export

    raw = tmp / "optimum"
    logging.getLogger("optimum").setLevel(logging.ERROR)
    try:
        main_export(str(hf_dir), str(raw), task=ENCODER_TASK, opset=opset, device="cpu", do_validation=False,
                    library_name="transformers")
    except Exception as err:  # optimum raises ValueError, KeyError, torch errors... for unsupported models
        raise ModelprepError(hf_dir / "config.json", f"optimum cannot export {architecture} as {ENCODER_TASK}: "
                                                     f"{first_line(err)}") from None
    check_model(raw, f"export of {hf_dir}", out_dir, "encoder")
    save_model(load_model(raw), tmp, external_min_bytes)
    for path in sorted(raw.iterdir()):
        # optimum's own model files (model.onnx, model.onnx_data) are replaced by save_model's.
        if not path.name.startswith(MODEL_FILE):
            shutil.copyfile(path, tmp / path.name)
    shutil.rmtree(raw)


def _copy_companions(hf_dir: Path, out_dir: Path) -> None:
    for name in (*CONFIG_FILES, *SENTENCE_TRANSFORMERS_FILES):
        if (hf_dir / name).is_file() and not (out_dir / name).exists():
            shutil.copyfile(hf_dir / name, out_dir / name)
    modules = hf_dir / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            folder = module.get("path")
            if folder and (hf_dir / folder).is_dir():
                shutil.copytree(hf_dir / folder, out_dir / folder)
