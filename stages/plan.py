"""DVC stage: which per-model artifacts the variants need (a base per format with variants; an
importance matrix if a GGUF variant asks for one), so that stages build nothing no variant reads."""

from pipeline.plan import write_plan
from pipeline.stage import run_stage


def run(settings, layout):
    write_plan(settings, layout.plan)


run_stage(__doc__, (), run)
