"""Verification probes: fixed inputs with the outputs the validated build gave, so a registry can
check that a node really serves this artifact (`build.py` records them; `check.py` asks a node)."""
