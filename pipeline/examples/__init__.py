"""Example models: ones the pipeline makes itself, and ones installed Python packages ship."""
