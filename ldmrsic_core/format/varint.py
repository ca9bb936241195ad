"""Unsigned LEB128 varints and a bounds-checked byte reader, for payloads and the binary header."""

from __future__ import annotations

from ldmrsic_core.errors import PayloadError


def varint(n: int) -> bytes:
    """``n`` ≥ 0 as an unsigned LEB128 varint (7 bits per byte, low bits first)."""
    if n < 0:
        raise ValueError(f"varints are unsigned, got {n}")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


class Reader:
    """Reads varints and byte strings from ``data``; running past its end raises ``error``."""

    def __init__(self, data: bytes, error: type[Exception] = PayloadError):
        self.data, self.pos, self.error = data, 0, error

    def varint(self) -> int:
        value = shift = 0
        while True:
            if self.pos >= len(self.data) or shift > 63:
                raise self.error("truncated varint")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise self.error("truncated payload")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def at_end(self) -> bool:
        return self.pos == len(self.data)
