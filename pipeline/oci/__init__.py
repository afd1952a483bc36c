"""Released packages as OCI artifacts: CNCF ModelPack manifests (modelpack.py) pushed to and pulled from
an OCI distribution registry (registry.py, pull.py); the pin target is pipeline/pin/oci.py."""
