"""A Hugging Face model whose weights are read from its safetensors files only while they are used.

The model is built without its weights (its parameters live on PyTorch's meta device, its buffers
are real); each module that owns parameters reads them from the checkpoint, as float32, just before
it runs and drops them right after. One forward pass over a batch of inputs therefore holds one
module's weights at a time: a 7B model runs its fp32 reference in about a gigabyte besides the
activations, reading each checkpoint file once per batch, and gives the same float32 figures as the
whole model loaded in float32 (the weights are cast exactly as `from_pretrained` casts them).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError

INDEX = "model.safetensors.index.json"


def checkpoint_map(hf_dir: Path) -> dict[str, Path]:
    """Checkpoint tensor name -> the safetensors file holding it."""
    from safetensors import safe_open

    if (hf_dir / INDEX).is_file():
        weight_map = json.loads((hf_dir / INDEX).read_text(encoding="utf-8"))["weight_map"]
        return {name: hf_dir / file for name, file in weight_map.items()}
    found = {}
    for path in sorted(hf_dir.glob("*.safetensors")):
        with safe_open(str(path), "pt") as handle:
            found.update({name: path for name in handle.keys()})
    return found


def empty_model(hf_dir: Path, kind: str, device: str = "cpu", dtype=None):
    """The model of `hf_dir`'s config (parameters in `dtype`, float32 by default) with its parameters on the
    meta device (no memory), its buffers on `device`."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM
    from transformers.modeling_utils import no_init_weights

    loader = AutoModelForCausalLM if kind == "decoder" else AutoModel
    try:
        config = AutoConfig.from_pretrained(hf_dir)
        # Parameters are allocated but never written (no init), so they take address space, not
        # memory, until they are replaced by meta tensors below.
        with no_init_weights():
            model = loader.from_config(config, dtype=dtype or torch.float32)
    except (ValueError, KeyError) as err:  # how transformers says it has no class for the config
        raise ModelprepError(hf_dir / "config.json", f"transformers {transformers.__version__} cannot build this "
                                                     f"model for the reference: {str(err).splitlines()[0]}") from None
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            module._parameters[name] = torch.nn.Parameter(torch.empty_like(param, device="meta"), requires_grad=False)
        for name, buffer in module.named_buffers(recurse=False):
            module._buffers[name] = buffer.to(device)
    model.tie_weights()
    return model.eval()


class StreamedWeights:
    """Forward hooks that load each module's own parameters from the checkpoint and drop them after use."""

    def __init__(self, model, hf_dir: Path, device: str):
        self.device, self.files = device, checkpoint_map(hf_dir)
        self.sources = self.sources_of(model, self.files)
        for module in model.modules():
            if any(p is not None for p in module._parameters.values()):
                module.register_forward_pre_hook(self._load)
                module.register_forward_hook(self._drop)

    @staticmethod
    def sources_of(model, files: dict[str, Path]) -> dict[tuple[int, str], str]:
        """(module id, parameter name) -> the checkpoint tensor it is read from; tied parameters (one object
        under several names, like an output head sharing the embeddings) share a tensor."""
        prefix = getattr(model, "base_model_prefix", "")
        owners: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
        for module_name, module in model.named_modules():
            for name, param in module.named_parameters(recurse=False):
                full = f"{module_name}.{name}" if module_name else name
                owners[id(param)].append((id(module), name, full))
        sources = {}
        for shared in owners.values():
            names = [full for _, _, full in shared]
            candidates = [c for n in names for c in (n, f"{prefix}.{n}", n.removeprefix(f"{prefix}."))]
            found = next((c for c in candidates if c in files), None)
            if found is None:
                raise ModelprepError(next(iter(files.values())).parent,
                                     f"the checkpoint has no tensor for {names[0]}")
            sources.update({(module_id, name): found for module_id, name, _ in shared})
        return sources

    def _load(self, module, args: Any) -> None:
        import torch
        from safetensors import safe_open

        by_file: dict[Path, list[tuple[str, str]]] = defaultdict(list)
        for name, param in module._parameters.items():
            if param is None:
                continue
            key = self.sources[(id(module), name)]
            by_file[self.files[key]].append((name, key))
        for path, entries in by_file.items():
            # Opened per module and closed at once: the file's mapped pages do not stay resident.
            with safe_open(str(path), "pt", device="cpu") as handle:
                for name, key in entries:
                    tensor = handle.get_tensor(key).to(device=self.device, dtype=torch.float32)
                    module._parameters[name] = torch.nn.Parameter(tensor, requires_grad=False)

    def _drop(self, module, args: Any, output: Any) -> None:
        import torch

        for name, param in module._parameters.items():
            if param is not None:
                module._parameters[name] = torch.nn.Parameter(torch.empty_like(param, device="meta"),
                                                              requires_grad=False)


def load_whole(hf_dir: Path, kind: str) -> Any:
    """The whole model, every parameter read from the checkpoint in the dtype its config states (float32 if
    none), one tensor at a time: each file is opened per tensor and closed at once, so no file's mapped
    pages stay resident beside the model (reading a 2 GB file through one mapping would briefly hold it
    twice)."""
    import torch
    from safetensors import safe_open
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(hf_dir)
    stored = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None) or torch.float32
    dtype = stored if isinstance(stored, torch.dtype) else getattr(torch, str(stored))
    model = empty_model(hf_dir, kind, "cpu", dtype)
    files = checkpoint_map(hf_dir)
    sources = StreamedWeights.sources_of(model, files)
    for module in model.modules():
        for name, param in list(module._parameters.items()):
            if param is None:
                continue
            key = sources[(id(module), name)]
            with safe_open(str(files[key]), "pt", device="cpu") as handle:
                tensor = handle.get_tensor(key).to(dtype)
            module._parameters[name] = torch.nn.Parameter(tensor, requires_grad=False)
    model.tie_weights()
    return model
