"""DVC stage: make one variant from its format's base artifact, with that format's quantizer
(llama.cpp's for GGUF, ONNX Runtime's for ONNX; params: the variant's entry)."""

from pipeline.diskspace import checkpoint_parameters, require_free
from pipeline.formats import read_variant
from pipeline.formats.base import QuantizeInputs
from pipeline.stage import run_stage


def run(settings, layout, model, variant):
    chosen = read_variant(settings, variant)
    out_dir = layout.artifact(model, variant)
    require_free(out_dir, chosen.format.variant_bytes(chosen, checkpoint_parameters(layout.hf(model))), variant)
    inputs = QuantizeInputs(layout.base(model, chosen.format.name), layout.corpus, layout.imatrix(model))
    chosen.format.quantize(chosen, model, inputs, out_dir)


run_stage(__doc__, ("model", "variant"), run)
