"""DVC stage: a model's unquantized artifact of one format (GGUF conversion, ONNX export), which every
variant of that format is made from (params: the format's section)."""

from pipeline import formats
from pipeline.fileio import read_json
from pipeline.stage import run_stage


def run(settings, layout, model, format):
    fmt = formats.get(format)
    kind = read_json(layout.source_record(model))["kind"]
    fmt.build_base(layout.hf(model), kind, settings.read(fmt.name, fmt.read_settings), layout.base(model, fmt.name))


run_stage(__doc__, ("model", "format"), run)
