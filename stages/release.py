"""DVC stage: check a variant's metrics against its gate; only if it passes, write its release manifest and
the CAR of its package."""

from pipeline.formats import read_variant
from pipeline.release import ReleaseSettings, release_variant
from pipeline.stage import run_stage

run_stage(__doc__, ("model", "variant"), lambda settings, layout, model, variant: release_variant(
    read_variant(settings, variant), model, ReleaseSettings.read(settings, model, variant), layout))
