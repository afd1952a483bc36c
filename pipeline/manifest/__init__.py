"""The release manifest as registries consume it: its published JSON Schema and its checks."""
