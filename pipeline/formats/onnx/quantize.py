"""fp32 ONNX export -> one ONNX variant directory, through that variant's pass."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.errors import ModelprepError, first_line
from pipeline.fileio import atomic_path
from pipeline.formats.onnx.context import PassContext
from pipeline.formats.onnx.feeds import graph_inputs, is_decoder
from pipeline.formats.onnx.files import (
    MODEL_FILE,
    check_model,
    copy_companions,
    load_model,
    model_bytes,
)
from pipeline.formats.onnx.passes import OnnxPass
from pipeline.progress import human_bytes, log

STAGE = "quantize_onnx"


def quantize_onnx(base_dir: Path, chosen: OnnxPass, settings: Any, external_min_bytes: int, corpus_dir: Path,
                  out_dir: Path) -> float:
    """Write the variant directory `out_dir` by the pass `chosen`; return the seconds from reading the base to
    writing the variant, as llama.cpp's quantizer is timed."""
    variant = chosen.name
    start = time.monotonic()
    kind = "decoder" if is_decoder(graph_inputs(load_model(base_dir, weights=False))) else "encoder"
    # The scratch folder is named like the output's temporaries, so a killed run's is swept too.
    with (atomic_path(out_dir, directory=True) as tmp,
          tempfile.TemporaryDirectory(prefix=f".{out_dir.name}.tmp-scratch-", dir=out_dir.parent) as scratch):
        try:
            chosen.run(settings, PassContext(base_dir, tmp, kind, corpus_dir, Path(scratch), external_min_bytes))
        except ModelprepError:
            raise
        except Exception as err:  # the quantizers raise assorted errors (ValueError, onnx, ORT, numpy)
            raise ModelprepError(base_dir / MODEL_FILE, f"{variant} quantizer failed: "
                                                        f"{type(err).__name__}: {first_line(err)[:300]}") from None
        seconds = time.monotonic() - start
        check_model(tmp, f"{variant} quantization", out_dir, kind)
        copy_companions(base_dir, tmp)
    size_in, size_out = model_bytes(base_dir), model_bytes(out_dir)
    log(STAGE, f"{base_dir} ({human_bytes(size_in)}) -> {variant} {out_dir} ({human_bytes(size_out)}, "
               f"{size_in / size_out:.1f}x smaller) in {seconds:.2f} s")
    return seconds
