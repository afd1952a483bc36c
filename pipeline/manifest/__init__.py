"""The release manifest as registries consume it: the `Manifest` object, its published JSON Schema,
signatures, the deployment settings it carries and the pre-deployment checklist."""
