"""What a variant asks of a machine: memory per serving profile (`memory.py`), the runtimes and
builds that run it (`runtimes.py`), which GPUs fit it (`gpus.py`, `gpus.yaml`), and the same facts
in the shapes schedulers read (`match.py`, `akash.py`)."""
