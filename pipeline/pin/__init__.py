"""Pinning release packages to networks: one interface (`base.PinTarget`), one module per target."""
