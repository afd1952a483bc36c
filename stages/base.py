"""DVC stage: a model's unquantized artifact of one format (GGUF conversion, ONNX export), which every
variant of that format is made from (params: the format's section); a format without variants gets
only a note."""

from pipeline import formats
from pipeline.diskspace import checkpoint_parameters, require_free
from pipeline.fileio import read_json
from pipeline.plan import read_plan
from pipeline.stage import run_stage, write_not_built


def run(settings, layout, model, format):
    fmt = formats.get(format)
    section = settings.read(fmt.name, fmt.read_settings)
    out_dir = layout.base(model, fmt.name)
    if not read_plan(layout.plan)["bases"][fmt.name]:
        return write_not_built(out_dir, "base", f"params.yaml '{fmt.name}.variants' is empty: no variant reads it")
    require_free(out_dir, fmt.base_bytes(section, checkpoint_parameters(layout.hf(model))), f"the {format} base")
    fmt.build_base(layout.hf(model), read_json(layout.source_record(model))["kind"], section, out_dir)


run_stage(__doc__, ("model", "format"), run)
