"""Runtimes the evaluator can score: the PyTorch reference and each format's inference engine.

Every runtime answers the same two questions, so one evaluator serves them all: the next-token
logits at each position of a token window (decoders), and pooled sentence embeddings (encoders).
A new format's runtime is one new module here.
"""
