"""DVC stage: resolve a model's source (folder, package or hub id), check it and link (or copy) it into the build."""

from pipeline.sources import import_model, pick_model, read_models
from pipeline.stage import run_stage


def run(settings, layout, model):
    spec = pick_model(settings.read("models", read_models), model, settings.path)
    import_model(spec, layout.root.resolve(), layout.hf(model), layout.source_record(model))


run_stage(__doc__, ("model",), run)
