"""deep-hash (arweave-js `lib/deepHash.ts`): SHA-384 over a tree of byte strings, each level tagged
with its kind and length, so no two different trees hash alike."""

from __future__ import annotations

import hashlib

DeepHashable = bytes | list  # a byte string, or a list of DeepHashables


def _sha384(data: bytes) -> bytes:
    return hashlib.sha384(data).digest()


def deep_hash(item: DeepHashable) -> bytes:
    if isinstance(item, list):
        acc = _sha384(b"list" + str(len(item)).encode())
        for child in item:
            acc = _sha384(acc + deep_hash(child))
        return acc
    return _sha384(_sha384(b"blob" + str(len(item)).encode()) + _sha384(item))
