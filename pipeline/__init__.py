"""modelprep: turn a Hugging Face model into validated, quantized artifacts."""

__version__ = "0.1.0"
