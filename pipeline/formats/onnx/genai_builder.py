"""Decoders to ONNX with ONNX Runtime GenAI's model builder, in a process of its own.

The builder (`onnxruntime_genai.models.builder`, 0.15.2) writes the graph Microsoft publishes its ONNX
decoders in: GroupQueryAttention with rotary embeddings inside, fused QKV projections, logits for
every position, past and present key/values named as ONNX Runtime GenAI and our runtime read them,
weights in model.onnx.data, and the genai_config.json that ONNX Runtime GenAI loads. Two of its steps
would hold several copies of the model; this module replaces them before running it:
- loading: the builder calls `from_pretrained`, which upcasts to float32 and, while copying from the
  checkpoint's mapping, holds its pages too. Here the weights are read in their stored dtype one
  tensor at a time (`runtimes/weights.load_whole`): one copy of the model, as stored;
- initializers: its lazy float32 cast keeps every cast tensor alive until the file is saved. Here each
  is cast when it is written and dropped after, as the builder's own 0.18.0 does.
Its memory is then about the model's stored bytes plus one float32 tensor (measured in `make bench`).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from pipeline.diskspace import checkpoint_parameters
from pipeline.errors import ModelprepError
from pipeline.progress import watch_growth
from pipeline.subprocess_tail import run_tool

STAGE = "export_onnx"
PRECISION, PROVIDER = "fp32", "cpu"  # the base: float32 on the CPU; variants are quantized from it


def build_decoder(hf_dir: Path, out_dir: Path) -> None:
    """Write the float32 decoder graph, its data, genai_config.json and the tokenizer into `out_dir`."""
    expected = 4 * checkpoint_parameters(hf_dir)  # float32
    with (tempfile.TemporaryDirectory(prefix="genai-builder-cache-") as cache,
          watch_growth(STAGE, "writing the float32 decoder", out_dir, expected)):
        # tqdm's per-tensor bars would fill the log; the builder prints a line per layer besides.
        code, tail = run_tool([sys.executable, "-m", __name__, str(hf_dir), str(out_dir), cache],
                              env_extra={"TQDM_DISABLE": "1"}, writes_into=out_dir.parent)
    if code != 0:
        why = next((line for line in reversed(tail) if "Error" in line or "error" in line), tail[-1] if tail else "")
        raise ModelprepError(hf_dir / "config.json", f"ONNX Runtime GenAI's model builder failed: {why.strip()}")


def _patch_builder() -> None:
    import onnx_ir as ir
    import onnxruntime_genai.models  # noqa: F401  (puts the builder's own modules on sys.path)
    from builders import base
    from onnx_ir.tensor_adapters import TorchTensor, to_torch_dtype

    from pipeline.runtimes.weights import load_whole

    def load_weights(self, input_path):
        return load_whole(Path(self.model_name_or_path), "decoder")

    original = base.Model.make_initializer

    def make_initializer(self, tensor, /, name, to=None):
        if to is None:
            return original(self, tensor, name, to=None)
        target = to_torch_dtype(to)
        lazy = ir.LazyTensor(lambda: TorchTensor(tensor.to(target), name=name), dtype=to,
                             shape=ir.Shape(tensor.shape), name=name)
        value = self.make_value(name, lazy.dtype, lazy.shape)
        value.const_value = lazy
        self.model.graph.register_initializer(value)

    base.Model.load_weights = load_weights
    base.Model.make_initializer = make_initializer


def main(hf_dir: str, out_dir: str, cache: str) -> None:
    _patch_builder()
    from onnxruntime_genai.models.builder import create_model, parse_extra_options

    options = parse_extra_options(None, hf_dir, out_dir, PRECISION, PROVIDER, cache, [])
    create_model(None, hf_dir, out_dir, PRECISION, PROVIDER, cache, **options)


if __name__ == "__main__":
    main(*sys.argv[1:])
