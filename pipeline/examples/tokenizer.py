"""A SentencePiece tokenizer trained on the corpus, as a Llama tokenizer folder, for the generated models.

Trained in memory, single-threaded and without shuffling, so the same text gives the same bytes (with
a model_prefix the model would record its temporary path and differ between identical builds).
"""

from __future__ import annotations

import io
from pathlib import Path


def train_sentencepiece(texts: list[str], vocab_size: int, out_dir: Path):
    """Train a BPE tokenizer of `vocab_size` pieces on `texts` and save it in `out_dir`; the LlamaTokenizer."""
    import sentencepiece as spm
    from transformers import LlamaTokenizer

    lines = [line.strip() for text in texts for line in text.splitlines() if line.strip()]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=1.0,
        byte_fallback=True,  # any byte stays encodable, as in Llama's own tokenizer
        split_digits=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=1,
        shuffle_input_sentence=False,
        input_sentence_size=0,
        minloglevel=2,
    )
    path = out_dir / "tokenizer.model"
    path.write_bytes(model.getvalue())
    tokenizer = LlamaTokenizer(vocab_file=str(path), legacy=True, add_bos_token=True, add_eos_token=False)
    path.unlink()  # save_pretrained writes its own copy
    tokenizer.save_pretrained(out_dir)
    return tokenizer
