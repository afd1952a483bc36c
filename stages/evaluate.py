"""DVC stage: score one variant in its runtime against the stored reference."""

from pipeline.evaluate import EvaluationSpec
from pipeline.formats import read_variant
from pipeline.probes.build import ProbeSpec
from pipeline.stage import run_stage
from pipeline.validate import validate_variant


def run(settings, layout, model, variant):
    evaluation = settings.read("evaluation", EvaluationSpec)
    validate_variant(read_variant(settings, variant), model, evaluation, settings.read("probes", ProbeSpec), layout)


run_stage(__doc__, ("model", "variant"), run)
