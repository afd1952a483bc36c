"""HTTP servers the pin tests talk to: test doubles that check everything they receive.

Kubo and Pinning Service API servers cannot be installed from the registries this project reaches,
so these implement the endpoints modelprep uses from their specs. They share no code with
`pipeline/`: blocks are re-hashed by `ipld.py`'s own decoder, so a wrong CID or a corrupted upload
fails the test rather than agreeing with the code under test. Every server can inject faults.
"""
