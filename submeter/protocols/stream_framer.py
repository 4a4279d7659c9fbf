"""Find frames in a byte stream (TCP, serial): feed bytes, get complete frames.

Bytes that cannot start a frame are skipped, an unfinished frame at the end is kept for the
next `feed`, and a frame that fails its checksum is skipped one byte at a time. If a complete
valid frame appears after an unfinished candidate, the candidate was garbage and is dropped,
so a stray start byte cannot stall the stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from submeter.protocols.errors import ProtocolError

FrameT = TypeVar("FrameT")

FrameLength = Callable[[bytearray, int], "int | None"]
"""Total frame length for a start byte at the index; None if more bytes are needed, 0 if the
bytes there cannot begin a frame."""


class StreamFramer(Generic[FrameT]):
    def __init__(
        self, start_byte: int, frame_length: FrameLength, decode: Callable[[bytes], FrameT]
    ) -> None:
        self._start_byte = start_byte
        self._frame_length = frame_length
        self._decode = decode
        self._buffer = bytearray()

    @property
    def pending(self) -> bytes:
        """Bytes kept back, waiting for the rest of a frame."""
        return bytes(self._buffer)

    def feed(self, data: bytes) -> list[FrameT]:
        """Add received bytes; return the frames they complete, in stream order."""
        self._buffer += data
        frames: list[FrameT] = []
        while (frame := self._take_frame()) is not None:
            frames.append(frame)
        return frames

    def _take_frame(self) -> FrameT | None:
        buffer = self._buffer
        first_unfinished: int | None = None
        start = buffer.find(self._start_byte)
        while start >= 0:
            length = self._frame_length(buffer, start)
            if length is None:
                if first_unfinished is None:
                    first_unfinished = start
            elif length > 0 and start + length <= len(buffer):
                try:
                    frame = self._decode(bytes(buffer[start : start + length]))
                except ProtocolError:
                    pass
                else:
                    del buffer[: start + length]
                    return frame
            elif length > 0 and first_unfinished is None:
                first_unfinished = start
            start = buffer.find(self._start_byte, start + 1)
        del buffer[: len(buffer) if first_unfinished is None else first_unfinished]
        return None
