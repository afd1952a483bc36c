"""Calibration inputs for GPTQ: windows (decoders) or sentences (encoders) of the training split.

Calibration never sees the held-out text the variants are validated on.
"""

from __future__ import annotations

from onnxruntime.quantization import CalibrationDataReader

from pipeline.corpus import TRAIN_FILE, read_texts, sentences
from pipeline.evaluate import decoder_windows
from pipeline.formats.onnx.context import PassContext
from pipeline.formats.onnx.feeds import DecoderIO, encoder_feeds, graph_inputs
from pipeline.formats.onnx.files import MODEL_FILE


class CorpusReader(CalibrationDataReader):
    def __init__(self, model, ctx: PassContext, count: int, window: int):
        texts = read_texts(ctx.corpus_dir, TRAIN_FILE)
        inputs = graph_inputs(model)
        if ctx.kind == "decoder":
            io = DecoderIO.of(inputs, ctx.base_dir / MODEL_FILE)
            windows = decoder_windows(ctx.base_dir, texts, window, count * (window - 1), TRAIN_FILE)
            self.feeds = [io.feeds(w[None], io.empty_past(), 0) for w in windows]
        else:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(ctx.base_dir)
            self.feeds = [encoder_feeds(inputs, tokenizer(text, truncation=True, max_length=window,
                                                          return_tensors="np"))
                          for text in sentences(texts, count)]
        self.position = 0

    def get_next(self):
        if self.position == len(self.feeds):
            return None
        self.position += 1
        return self.feeds[self.position - 1]
