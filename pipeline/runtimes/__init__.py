"""The `Runtime` interface every runtime implements, the PyTorch reference, and the pooling they share.

Every runtime answers the same questions, so one evaluator serves them all: the next-token logits at
each position of a token window (decoders), and pooled sentence embeddings (encoders). A format's
own runtime lives in its package (`pipeline/formats/<format>/runtime.py`).
"""
