"""Fixed-size chunks of a byte stream, with one chunk of lookahead so the layout knows when it is done.

Reads `size` bytes at a time whatever the file's size, so memory stays constant.
"""

from __future__ import annotations

from typing import BinaryIO


class FixedSizeChunker:
    def __init__(self, stream: BinaryIO, size: int):
        self.stream, self.size = stream, size
        self._next = self._read()
        self._first = True

    def _read(self) -> bytes:
        # Like Go's io.ReadFull: keep reading until the chunk is full or the stream ends.
        parts, missing = [], self.size
        while missing:
            part = self.stream.read(missing)
            if not part:
                break
            parts.append(part)
            missing -= len(part)
        return b"".join(parts)

    def done(self) -> bool:
        """No data left (an empty stream still gives its one empty chunk first)."""
        return not self._first and not self._next

    def next_chunk(self) -> bytes:
        chunk, self._first = self._next, False
        self._next = self._read() if chunk else b""
        return chunk
