"""Hugging Face folder -> fp32 ONNX with optimum-onnx: the base every ONNX variant is made from.

Decoders export as `text-generation-with-past` (one graph that takes and returns past key/values),
encoders as `feature-extraction` (hidden states; pooling stays outside the graph, as the
sentence-transformers files copied alongside describe it).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from pipeline.errors import ModelprepError, first_line
from pipeline.fileio import atomic_path, write_json
from pipeline.formats.onnx.files import (
    GENAI_CONFIG,
    MODEL_FILE,
    check_model,
    load_model,
    model_bytes,
    save_model,
)
from pipeline.formats.onnx.genai_config import genai_config
from pipeline.progress import human_bytes, log

STAGE = "export_onnx"
TASKS = {"decoder": "text-generation-with-past", "encoder": "feature-extraction"}
# sentence-transformers describes pooling in these; a node embedding sentences needs them.
SENTENCE_TRANSFORMERS_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json")


def export_onnx(hf_dir: Path, kind: str, opset: int, external_min_bytes: int, out_dir: Path) -> None:
    from optimum.exporters.onnx import main_export

    config = json.loads((hf_dir / "config.json").read_text(encoding="utf-8"))
    architecture = "/".join(config.get("architectures") or ["?"])
    task = TASKS[kind]
    log(STAGE, f"{hf_dir} ({architecture}) -> ONNX opset {opset}, task {task}")
    with atomic_path(out_dir, directory=True) as tmp:
        raw = tmp / "optimum"
        logging.getLogger("optimum").setLevel(logging.ERROR)
        try:
            main_export(str(hf_dir), str(raw), task=task, opset=opset, device="cpu", do_validation=False,
                        library_name="transformers")
        except Exception as err:  # optimum raises ValueError, KeyError, torch errors... for unsupported models
            raise ModelprepError(hf_dir / "config.json", f"optimum cannot export {architecture} as {task}: "
                                                         f"{first_line(err)}") from None
        check_model(raw, f"export of {hf_dir}", out_dir)
        model = load_model(raw)
        save_model(model, tmp, external_min_bytes)
        for path in sorted(raw.iterdir()):
            # optimum's own model files (model.onnx, model.onnx_data) are replaced by save_model's.
            if not path.name.startswith(MODEL_FILE):
                shutil.copyfile(path, tmp / path.name)
        shutil.rmtree(raw)
        _copy_pooling(hf_dir, tmp)
        if kind == "decoder":
            generation_path = tmp / "generation_config.json"
            generation = json.loads(generation_path.read_text(encoding="utf-8")) if generation_path.is_file() else {}
            write_json(tmp / GENAI_CONFIG, genai_config(
                json.loads((tmp / "config.json").read_text(encoding="utf-8")), generation,
                [i.name for i in model.graph.input], MODEL_FILE, hf_dir / "config.json"))
    log(STAGE, f"wrote {out_dir} (model {human_bytes(model_bytes(out_dir))})")


def _copy_pooling(hf_dir: Path, out_dir: Path) -> None:
    for name in SENTENCE_TRANSFORMERS_FILES:
        if (hf_dir / name).is_file():
            shutil.copyfile(hf_dir / name, out_dir / name)
    modules = hf_dir / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            folder = module.get("path")
            if folder and (hf_dir / folder).is_dir():
                shutil.copytree(hf_dir / folder, out_dir / folder)
