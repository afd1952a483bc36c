"""The compact reference (16 bits per vocabulary entry) gives the figures the full float computation gives."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluate import EvaluationSpec, Reference, score
from pipeline.formats import read_variants
from pipeline.layout import Layout
from pipeline.logprobs import LEVELS, RANGE, CompactLogprobs, log_softmax
from pipeline.runtimes.torch_hf import TorchReference
from pipeline.settings import SettingsFile

MODEL = "tiny-llama"


def test_encode_keeps_targets_and_top1_exactly_and_values_within_half_a_step():
    rng = np.random.default_rng(7)
    logprobs = log_softmax(rng.normal(0, 6, size=(32, 1000)))
    tokens = rng.integers(0, 1000, size=32)
    compact = CompactLogprobs.encode(logprobs, tokens)
    assert compact.codes.dtype == np.uint16 and compact.codes.nbytes == logprobs.size * 2
    assert np.array_equal(compact.top1, logprobs.argmax(-1))
    assert np.array_equal(compact.targets, logprobs[np.arange(32), tokens])
    floor, step = compact.bounds[:, :1].astype(np.float64), compact.bounds[:, 1:].astype(np.float64)
    kept = logprobs >= logprobs.max(-1, keepdims=True) - RANGE
    error = np.abs(floor + compact.codes * step - logprobs)[kept]
    assert error.max() <= 0.5 * step.max() * 1.0001 and step.max() <= RANGE / LEVELS * 1.0001
    decoded = compact.decode()
    assert np.allclose(np.exp(decoded).sum(-1), 1.0, atol=1e-12), "decoded rows are renormalized"


def _full_figures(candidate_windows, reference_logits, windows):
    """Mean KLD and same-top-1 from the reference's logits as the runtime gave them, in float64."""
    klds, same = [], 0
    for window, cand, ref in zip(windows, candidate_windows, reference_logits, strict=True):
        cand_lp, ref_lp = log_softmax(cand[:-1]), log_softmax(ref[:-1])
        klds.append(np.maximum((np.exp(ref_lp) * (ref_lp - cand_lp)).sum(-1), 0.0))
        same += int((ref_lp.argmax(-1) == cand_lp.argmax(-1)).sum())
    kld = np.concatenate(klds)
    return float(kld.mean()), same / kld.size


@pytest.fixture(scope="module")
def reference_logits(built):
    layout = Layout(built)
    windows = Reference.load(layout.reference(MODEL)).inputs
    runtime = TorchReference(layout.hf(MODEL), "decoder", "cpu", 2, streamed=True)
    logits = list(runtime.windows_logits(windows))
    runtime.close()
    return logits


@pytest.mark.parametrize("variant", ["F16", "Q8_0", "Q4_K_M", "onnx-fp32", "onnx-int8", "onnx-int4"])
def test_compact_reference_scores_as_the_full_one(built, reference_logits, variant):
    layout, settings = Layout(built), SettingsFile.load(built / "params.yaml")
    spec = settings.read("evaluation", EvaluationSpec)
    chosen = read_variants(settings)[variant]
    reference = Reference.load(layout.reference(MODEL))
    runtime = chosen.format.open(layout.artifact(MODEL, variant), "decoder", spec)
    compact = score(runtime, reference, "test")
    full_kld, full_top1 = _full_figures(runtime.windows_logits(reference.inputs), reference_logits, reference.inputs)
    runtime.close()
    assert compact["same_top1"] == pytest.approx(full_top1, rel=1e-6)  # the metrics keep 6 digits
    # Relative agreement where a figure is big enough to have three digits after the 16-bit rounding
    # (its bias is about step^2/24 = 1.6e-8 nats a position); below that, within that bias.
    if full_kld >= 1e-5:
        assert compact["mean_kld"] == pytest.approx(full_kld, rel=1e-3)
    else:
        assert abs(compact["mean_kld"] - full_kld) < 1e-7
