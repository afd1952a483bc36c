"""Arweave transaction format 2, written on `cryptography` (no maintained Python client exists):
deep-hash, the chunk merkle tree (data_root and proofs), the JWK wallet, and signed transactions."""
