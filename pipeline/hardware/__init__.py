"""What a variant asks of a machine: the shared memory model and serving profiles (`memory.py`; each
format's estimator is in its package), the instruction sets builds need (`isa.py`), which GPUs fit
(`gpus.py`, `gpus.yaml`), and the same facts in the shapes schedulers read (`match.py`, `akash.py`)."""
