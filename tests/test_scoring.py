"""Runtimes that score several windows in one call give each window what it gives alone: batching must
never let one window's tokens reach another's (which would show as a large divergence)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluate import EvaluationSpec, Reference
from pipeline.formats import read_variants
from pipeline.layout import Layout
from pipeline.logprobs import log_softmax
from pipeline.settings import SettingsFile

MODEL = "tiny-llama"


@pytest.mark.parametrize("variant", ["Q8_0", "Q4_K_M", "onnx-int8"])
def test_batched_windows_score_as_windows_alone(built, variant):
    layout, settings = Layout(built), SettingsFile.load(built / "params.yaml")
    chosen = read_variants(settings)[variant]
    windows = Reference.load(layout.reference(MODEL)).inputs
    runtime = chosen.format.open(layout.artifact(MODEL, variant), "decoder",
                                 settings.read("evaluation", EvaluationSpec))
    together = list(runtime.windows_logits(windows))
    alone = [runtime.next_token_logits(window) for window in windows]
    runtime.close()
    assert len(together) == len(windows) > 1
    kld, same = [], 0
    for a, b in zip(alone, together, strict=True):
        assert a.shape == b.shape == (windows.shape[1], a.shape[-1])
        pa, pb = log_softmax(a), log_softmax(b)
        kld.append((np.exp(pa) * (pa - pb)).sum(-1))
        same += int((pa.argmax(-1) == pb.argmax(-1)).sum())
    # Batching changes llama.cpp's micro-batch, so its kernels round differently (measured here: mean
    # KLD 1e-7 (F16) to 3e-5 (Q4_K_M) between the two; ONNX Runtime exactly 0); a window that saw
    # another's tokens would be off by nats.
    assert float(np.concatenate(kld).mean()) < 1e-3
    assert same / windows.size > 0.98
