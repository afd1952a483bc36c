"""DVC stage: run the original model in PyTorch fp32 on the held-out inputs, once per model."""

from pipeline.evaluate import EvaluationSpec
from pipeline.reference import build_reference
from pipeline.stage import run_stage

run_stage(__doc__, ("model",), lambda settings, layout, model: build_reference(
    model, settings.read("evaluation", EvaluationSpec), layout))
