"""DVC stage: a model's importance matrix, llama.cpp's llama-imatrix over the training split on the
model's unquantized GGUF, for the GGUF variants with `imatrix: true` (params: gguf.imatrix); none
is computed when no variant asks for one."""

from pipeline import formats
from pipeline.device import resolve_device
from pipeline.evaluate import EvaluationSpec
from pipeline.fileio import read_json
from pipeline.formats.gguf.format import BASE_FILE
from pipeline.formats.gguf.imatrix import compute_imatrix
from pipeline.plan import read_plan
from pipeline.stage import run_stage


def run(settings, layout, model):
    gguf = formats.get("gguf")
    evaluation = settings.read("evaluation", EvaluationSpec)
    gpu = resolve_device(evaluation.device, "llama.cpp", gguf.gpu_build()) == "cuda"
    section = settings.read(gguf.name, gguf.read_settings)
    compute_imatrix(layout.base(model, gguf.name) / BASE_FILE, read_json(layout.source_record(model))["kind"],
                    layout.corpus, section.imatrix, evaluation.threads, gpu, layout.imatrix(model),
                    wanted=read_plan(layout.plan)["imatrix"])


run_stage(__doc__, ("model",), run)
