"""DVC stage: size against accuracy loss for every variant of one model, for `dvc plots show`."""

from pipeline.formats import read_variants
from pipeline.plots import write_plot_data
from pipeline.stage import run_stage

run_stage(__doc__, ("model",), lambda settings, layout, model: write_plot_data(
    model, tuple(read_variants(settings)), layout))
