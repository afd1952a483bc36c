"""IPFS content ids computed exactly as Kubo's `ipfs add` does, and CAR files of the blocks.

The pieces compose like boxo's UnixFS importer: `chunker` cuts bytes, `layout` arranges chunks into a
balanced DAG, `unixfs` encodes each node as dag-pb, `cid` names blocks, `directory` adds trees, and
`car` carries the blocks. `profiles` holds Kubo's import profiles.
"""
